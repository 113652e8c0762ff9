#include "sync/http_answer.h"

#include <algorithm>

#include "sync/answer_text.h"
#include "sync/retry_after.h"

namespace syncd {
namespace {

bool retryable_status(int status) {
  return status == 408 || status == 425 || status == 429 || status >= 500;
}

// A 4xx that refuses what the request carries (so a mutation in it), not the endpoint
// or the credentials.
bool refuses_content(int status) {
  if (status < 400 || status > 499 || retryable_status(status)) return false;
  return status != 401 && status != 403 && status != 404 && status != 405 && status != 407 &&
         status != 410;
}

}  // namespace

Answer classify_http(const HttpResponse& r, const std::string& what, int64_t now_ms,
                     const StatusRules& rules) {
  Answer a;
  if (!r.transport_failed()) a.server_date_ms = parse_http_date_ms(r.header("date"));
  const auto describe = [&] { return describe_answer(r, "remote", rules.missing); };
  if (r.transport_failed()) {
    a.kind = AnswerKind::retryable;
    a.unreachable = r.connect_failed;
    a.error = what + " failed: " + r.error;
  } else if (std::find(rules.ok.begin(), rules.ok.end(), r.status) != rules.ok.end()) {
    a.kind = AnswerKind::ok;
  } else if (retryable_status(r.status)) {
    a.kind = AnswerKind::retryable;
    a.error = what + " answered " + describe();
    const std::string header = r.header("retry-after");
    if (!header.empty()) a.retry_after_ms = parse_retry_after_ms(header, now_ms);
  } else if (r.status == 401 || r.status == 403) {
    a.kind = AnswerKind::unauthorised;
    a.refresh_may_help = r.status == 401;
    a.error = what == "push" ? "push answered HTTP " + std::to_string(r.status) + " (check " +
                                   rules.credentials + ")"
                             : what + " answered " + describe();
  } else if (!refuses_content(r.status)) {
    a.kind = AnswerKind::retryable;
    a.error = what + " answered " + describe();
  } else {
    a.kind = AnswerKind::rejected;
    a.error = describe();
  }
  return a;
}

}  // namespace syncd
