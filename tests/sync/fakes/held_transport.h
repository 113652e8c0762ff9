#pragma once
// An HttpTransport that holds every request until the test answers it by hand.
#include <deque>
#include <optional>
#include <string>

#include "sync/http_transport.h"

namespace syncd::testing {

class HeldTransport final : public HttpTransport {
 public:
  struct Pending {
    HttpRequest request;
    Callback done;
  };
  void send(HttpRequest request, Callback done) override {
    pending.push_back({std::move(request), std::move(done)});
  }
  void cancel_all() override { pending.clear(); }
  size_t in_flight() const override { return pending.size(); }

  // Takes the oldest request whose URL contains `path`.
  std::optional<Pending> take(const std::string& path) {
    for (auto it = pending.begin(); it != pending.end(); ++it) {
      if (it->request.url.find(path) != std::string::npos) {
        Pending p = std::move(*it);
        pending.erase(it);
        return p;
      }
    }
    return std::nullopt;
  }
  std::deque<Pending> pending;
};

}  // namespace syncd::testing
