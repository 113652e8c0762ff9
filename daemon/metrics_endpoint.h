#pragma once
// The HTTP endpoint of config metrics.listen: on a loopback address, GET /metrics is
// answered with the Prometheus text that `render` makes (what `syncctl metrics
// --prometheus` prints, rendered at most once a second); another path gets 404, another
// method 405, a malformed request 400, a request head of 8 KiB or more 431, a failure to
// render 500. One request per connection, then FIN, what the client still sends is read
// and dropped, and the connection closes. Every connection is closed 10 s after it opened,
// whatever it is doing, and past 16 open ones a new connection is closed at once: nothing
// a scraper (or anything else on the machine) does can hold memory or the loop. It owns
// every handle it opens; close() closes them all.
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
  void drain_then_close(Connection& conn);
  void finish(Connection& conn);

  uv_loop_t* loop_;
  std::function<std::string()> render_;
  std::string rendered_;  // the last text, reused within a second
  uint64_t rendered_at_ = 0;
  uv_tcp_t listener_{};
  bool listening_ = false;
  size_t open_ = 0;
  Connection* connections_ = nullptr;  // a list, through Connection::next
};

}  // namespace syncd
