#pragma once
// Percent-encoding (RFC 3986 section 2.1) of everything but the unreserved characters,
// for a query parameter or a form field whatever bytes the value holds; and a URL with
// its credentials taken out, for showing it.
#include <string>
#include <string_view>

namespace syncd {

std::string url_encode(std::string_view s);

// `url` without the user info of its authority ("https://user:pw@host/p" ->
// "https://host/p"), for a log line or a status text.
std::string url_without_user_info(const std::string& url);

}  // namespace syncd
