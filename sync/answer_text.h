#pragma once
// An HTTP answer as status and the log show it: "HTTP 503: <the body, cut and made
// printable>", with what a redirect or a missing endpoint means for the setting that
// named the URL ("a redirect to ...; syncd does not follow redirects: set remote to the
// server's own URL").
#include <string>

#include "sync/http_transport.h"

namespace syncd {

// `url_key` is the config key of the URL asked (remote, auth.token_url); `missing` what
// a 404, 405 or 410 there means.
std::string describe_answer(const HttpResponse& r, const std::string& url_key,
                            const std::string& missing);

}  // namespace syncd
