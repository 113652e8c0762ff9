#pragma once
// An HttpTransport that logs each request at debug level as it ends: method, path (no
// query, no user info), status or transport error, duration and body sizes; never a
// header value or a body, which may hold credentials or user data. It passes everything
// else to the transport it wraps.
#include "sync/http_transport.h"
#include "util/clock.h"

namespace syncd {

class LoggedTransport final : public HttpTransport {
 public:
  LoggedTransport(HttpTransport& inner, const Clock& clock) : inner_(inner), clock_(clock) {}

  void send(HttpRequest request, Callback done) override;
  void cancel_all() override { inner_.cancel_all(); }
  size_t in_flight() const override { return inner_.in_flight(); }

 private:
  HttpTransport& inner_;
  const Clock& clock_;
};

// The path of `url`, without scheme, user info, host, query or fragment ("/v1/push").
std::string url_path(const std::string& url);

}  // namespace syncd
