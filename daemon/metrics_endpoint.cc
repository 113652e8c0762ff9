#include "daemon/metrics_endpoint.h"

#include <stdexcept>

#include "util/logger.h"

namespace syncd {

struct MetricsEndpoint::Connection {
  MetricsEndpoint* owner = nullptr;
  uv_tcp_t tcp{};
  uv_timer_t timeout{};
  uv_write_t write{};
  uv_shutdown_t shutdown{};
  std::string head;    // the request as read so far
  std::string answer;  // held until the write completes
  bool answered = false;
  bool closing = false;
  int handles = 2;  // tcp and timeout, until both are closed
  Connection* prev = nullptr;
  Connection* next = nullptr;
};

namespace {

std::string uv_message(int rc) { return uv_strerror(rc); }

std::string http_answer(int status, const char* reason, const std::string& type,
                        const std::string& body, const char* extra_header = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_header +
         "Connection: close\r\n\r\n" + body;
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(uv_loop_t* loop, std::function<std::string()> render)
    : loop_(loop), render_(std::move(render)) {}

MetricsEndpoint::~MetricsEndpoint() = default;

void MetricsEndpoint::listen(const ListenAddress& address) {
  sockaddr_storage storage{};
  int rc = address.ipv6 ? uv_ip6_addr(address.host.c_str(), address.port,
                                      reinterpret_cast<sockaddr_in6*>(&storage))
                        : uv_ip4_addr(address.host.c_str(), address.port,
                                      reinterpret_cast<sockaddr_in*>(&storage));
  const std::string where =
      (address.ipv6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
  if (rc != 0) throw std::runtime_error("metrics.listen " + where + ": " + uv_message(rc));
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listening_ = true;
  rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&storage), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, on_connection);
  if (rc != 0) {
    throw std::runtime_error("metrics.listen " + where + ": cannot listen: " + uv_message(rc));
  }
}

void MetricsEndpoint::close() {
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  while (connections_) finish(*connections_);
}

void MetricsEndpoint::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<MetricsEndpoint*>(server->data);
  if (status < 0) return;
  auto* conn = new Connection;
  conn->owner = self;
  uv_tcp_init(self->loop_, &conn->tcp);
  uv_timer_init(self->loop_, &conn->timeout);
  conn->tcp.data = conn;
  conn->timeout.data = conn;
  conn->next = self->connections_;
  if (self->connections_) self->connections_->prev = conn;
  self->connections_ = conn;
  ++self->open_;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&conn->tcp)) != 0 ||
      self->open_ > kMaxConnections) {
    self->finish(*conn);
    return;
  }
  uv_timer_start(
      &conn->timeout,
      [](uv_timer_t* t) {
        auto* c = static_cast<Connection*>(t->data);
        c->owner->finish(*c);
      },
      kRequestTimeoutMs, 0);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&conn->tcp),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static char chunk[2048];  // one read at a time on the loop: copied into head at once
        *buf = uv_buf_init(chunk, sizeof chunk);
      },
      [](uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
        auto* c = static_cast<Connection*>(stream->data);
        if (n < 0) {
          c->owner->finish(*c);
          return;
        }
        c->head.append(buf->base, static_cast<size_t>(n));
        if (c->head.find("\r\n\r\n") != std::string::npos ||
            c->head.size() >= kMaxRequestHeadBytes) {
          uv_read_stop(stream);
          c->owner->answer(*c);
        }
      });
}

void MetricsEndpoint::answer(Connection& conn) {
  if (conn.answered) return;
  conn.answered = true;  // the deadline still runs: a client that never reads is cut off
  const size_t end = conn.head.find("\r\n\r\n");
  if (end == std::string::npos || end + 4 > kMaxRequestHeadBytes) {
    conn.answer = http_answer(431, "Request Header Fields Too Large", "text/plain",
                              "request head over 8 KiB\n");
  } else {
    const std::string line = conn.head.substr(0, conn.head.find("\r\n"));
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
    if (sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0) {
      conn.answer = http_answer(400, "Bad Request", "text/plain", "not an HTTP request\n");
    } else {
      const std::string method = line.substr(0, sp1);
      std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      target = target.substr(0, target.find('?'));
      if (method != "GET" && method != "HEAD") {
        conn.answer = http_answer(405, "Method Not Allowed", "text/plain", "GET /metrics only\n",
                                  "Allow: GET, HEAD\r\n");
      } else if (target != "/metrics") {
        conn.answer = http_answer(404, "Not Found", "text/plain", "GET /metrics only\n");
      } else {
        // Rendered at most once a second: a client asking in a loop cannot hold the loop.
        const uint64_t now = uv_now(loop_);
        try {
          if (rendered_.empty() || now - rendered_at_ >= 1000) {
            rendered_ = render_();
            rendered_at_ = now;
          }
          conn.answer =
              http_answer(200, "OK", "text/plain; version=0.0.4; charset=utf-8", rendered_);
        } catch (const std::exception& e) {
          log_warning(std::string("metrics.listen: ") + e.what());
          conn.answer =
              http_answer(500, "Internal Server Error", "text/plain", std::string(e.what()) + "\n");
        }
        if (method == "HEAD") conn.answer.resize(conn.answer.find("\r\n\r\n") + 4);
      }
    }
  }
  uv_buf_t buf = uv_buf_init(conn.answer.data(), static_cast<unsigned>(conn.answer.size()));
  conn.write.data = &conn;
  const int rc = uv_write(&conn.write, reinterpret_cast<uv_stream_t*>(&conn.tcp), &buf, 1,
                          [](uv_write_t* w, int status) {
                            auto* c = static_cast<Connection*>(w->data);
                            if (status != 0) {
                              c->owner->finish(*c);
                              return;
                            }
                            c->owner->drain_then_close(*c);
                          });
  if (rc != 0) finish(conn);
}

void MetricsEndpoint::drain_then_close(Connection& conn) {
  // Closing with unread bytes (a body, pipelined requests) would reset the connection
  // before the client reads the answer: send FIN, read and drop until the client closes
  // (or the deadline), then close.
  conn.shutdown.data = &conn;
  if (uv_shutdown(&conn.shutdown, reinterpret_cast<uv_stream_t*>(&conn.tcp),
                  [](uv_shutdown_t*, int) {}) != 0) {
    finish(conn);
    return;
  }
  conn.head.clear();
  conn.head.shrink_to_fit();
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&conn.tcp),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static char sink[2048];
        *buf = uv_buf_init(sink, sizeof sink);
      },
      [](uv_stream_t* stream, ssize_t n, const uv_buf_t*) {
        if (n < 0) {
          auto* c = static_cast<Connection*>(stream->data);
          c->owner->finish(*c);
        }
      });
}

void MetricsEndpoint::finish(Connection& conn) {
  if (conn.closing) return;
  conn.closing = true;
  if (conn.prev) conn.prev->next = conn.next;
  if (conn.next) conn.next->prev = conn.prev;
  if (connections_ == &conn) connections_ = conn.next;
  conn.prev = conn.next = nullptr;
  --open_;
  auto closed = [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    if (--c->handles == 0) delete c;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&conn.timeout), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&conn.tcp), closed);
}

}  // namespace syncd
