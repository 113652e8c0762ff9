#include "sync/logged_transport.h"

#include "util/logger.h"

namespace syncd {

std::string url_path(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  const size_t slash = url.find_first_of("/?#", start);
  if (slash == std::string::npos || url[slash] != '/') return "/";
  const size_t end = url.find_first_of("?#", slash);
  return url.substr(slash, end == std::string::npos ? std::string::npos : end - slash);
}

void LoggedTransport::send(HttpRequest request, Callback done) {
  if (!log_enabled(LogLevel::debug)) {
    inner_.send(std::move(request), std::move(done));
    return;
  }
  std::string what = request.method + " " + url_path(request.url);
  const size_t sent = request.body.size();
  const int64_t started = clock_.monotonic_ms();
  inner_.send(std::move(request), [this, what = std::move(what), sent, started,
                                   done = std::move(done)](HttpResponse r) {
    const int64_t ms = clock_.monotonic_ms() - started;
    std::string line = "http: " + what + " -> ";
    line += r.transport_failed() ? r.error : std::to_string(r.status);
    line += " in " + std::to_string(ms) + " ms (" + std::to_string(sent) + " bytes sent, " +
            std::to_string(r.body.size()) + " received)";
    LogFields fields = {{"http_request", what},
                        {"duration_ms", ms},
                        {"bytes_sent", static_cast<int64_t>(sent)},
                        {"bytes_received", static_cast<int64_t>(r.body.size())}};
    if (r.transport_failed()) {
      fields.push_back({"transport_error", r.error});
    } else {
      fields.push_back({"http_status", static_cast<int64_t>(r.status)});
    }
    log_debug(line, fields);
    done(std::move(r));
  });
}

}  // namespace syncd
