#pragma once
// How an HTTP answer reads as an Answer, by rules every protocol shares: the statuses a
// protocol takes as success are ok (its body is the protocol's to check); 408, 425, 429
// and 5xx are retryable with Retry-After; 401 and 403 are unauthorised; a 3xx, 404, 405,
// 407, 410 or a status outside 200-599 says the URL or a proxy is wrong and is retried,
// never a dead letter (every mutation would be refused alike); any other 4xx refuses the
// request's content (rejected).
#include <cstdint>
#include <string>
#include <vector>

#include "sync/http_transport.h"
#include "sync/remote_protocol.h"

namespace syncd {

struct StatusRules {
  std::vector<int> ok = {200};
  // What a 404, 405 or 410 at the remote means ("no protocol v1 endpoint there: check
  // remote").
  std::string missing;
  // The config keys a push answered 401 or 403 points to.
  std::string credentials = "auth.token";
};

// `what` names the request in the error text: "push", "pull", "health check".
Answer classify_http(const HttpResponse& r, const std::string& what, int64_t now_ms,
                     const StatusRules& rules);

}  // namespace syncd
