#pragma once
// The HTTP endpoint of config metrics.listen: on a loopback address, GET /metrics is
// answered with the Prometheus text that `render` makes (what `syncctl metrics
// --prometheus` prints); another path gets 404, another method 405, a malformed request
// 400 and a request head over 8 KiB 431. One request per connection, then it closes. A
// connection is closed when its request has not come within 10 s, and past 16 open ones
// a new connection is closed at once: nothing a scraper (or anything else on the
// machine) does can hold memory or the loop. It owns every handle it opens; close()
// closes them all.
#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "config/listen_address.h"

namespace syncd {

class MetricsEndpoint {
 public:
  static constexpr size_t kMaxRequestHeadBytes = 8 << 10;
  static constexpr uint64_t kRequestTimeoutMs = 10000;
  static constexpr size_t kMaxConnections = 16;

  MetricsEndpoint(uv_loop_t* loop, std::function<std::string()> render);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Throws std::runtime_error naming the address and the cause.
  void listen(const ListenAddress& address);
  void close();

  struct Connection;

 private:
  static void on_connection(uv_stream_t* server, int status);
  void answer(Connection& conn);
  void finish(Connection& conn);

  uv_loop_t* loop_;
  std::function<std::string()> render_;
  uv_tcp_t listener_{};
  bool listening_ = false;
  size_t open_ = 0;
  Connection* connections_ = nullptr;  // a list, through Connection::next
};

}  // namespace syncd
