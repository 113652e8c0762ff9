#pragma once
// HttpTransport on libcurl's multi interface, driven by the libuv loop as in curl's
// multi-uv example: curl's socket callback starts or stops one uv_poll_t per socket, its
// timer callback drives one uv_timer_t, and finished transfers are collected after
// every curl_multi_socket_action. Nothing blocks the loop. Connections are reused
// (keep-alive; HTTP/2 multiplexing where the server offers it over TLS), gzip and
// deflate responses are accepted, and every transfer has connect, total and low-speed
// timeouts and a cap on the response size.
//
// What a server sends is bounded before it costs anything. Bodies are decoded here
// (BodyDecoder), not by curl, a piece at a time: the cap counts decoded bytes and stops
// a gzip bomb at the cap; one turn of the loop decodes and hands on at most
// kTurnBudgetBytes, all transfers together, and a transfer with more waits for a later
// turn (curl holds its next wire bytes meanwhile), so local clients are served in
// between however fast or however compressed the server's bytes are. The response
// headers have their own cap. Redirects are never followed (docs/PROTOCOL.md): a 3xx
// is handed up as the answer it is. https is verified always (HttpSettings): a failed
// handshake is a transport error naming what to check.
#include <curl/curl.h>
#include <uv.h>

#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "sync/http_transport.h"

namespace syncd {

struct HttpSettings {
  int64_t connect_timeout_ms = 5000;
  int64_t timeout_ms = 30000;
  int64_t low_speed_time_s = 20;
  int64_t max_response_bytes = 64 << 20;
  std::string user_agent = "syncd/" SYNCD_VERSION;
  // https: TLS 1.2 or later, the peer's certificate and name verified (unless
  // insecure_skip_verify), against ca_file alone when it is set.
  std::string ca_file;
  std::string client_cert;  // with client_key: mutual TLS
  std::string client_key;
  std::string pinned_pubkeys;  // libcurl's form, "sha256//A;sha256//B"; empty: no pin
  bool insecure_skip_verify = false;
};

// What a failed transfer's curl error means for the user: a TLS refusal names the
// setting to look at ("tls.ca_file", "tls.pinned_pubkey", ...) before curl's own text.
std::string describe_transfer_error(CURLcode code, const std::string& curl_text);

class CurlTransport final : public HttpTransport {
 public:
  // Decoded body bytes handed on per loop turn, all transfers together: about a
  // millisecond of inflating and parsing.
  static constexpr size_t kTurnBudgetBytes = 256 << 10;
  // Response header bytes per transfer; a longer header block ends it.
  static constexpr size_t kMaxHeaderBytes = 64 << 10;

  CurlTransport(uv_loop_t* loop, HttpSettings settings);
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  void send(HttpRequest request, Callback done) override;
  void cancel_all() override;
  size_t in_flight() const override { return transfers_.size(); }
  void set_settings(HttpSettings settings) { settings_ = std::move(settings); }

  // Cancels everything and closes the libuv handles; `done` runs once they are closed.
  void close(std::function<void()> done);

  struct Transfer;
  struct SocketContext;

 private:
  static int on_socket(CURL* easy, curl_socket_t fd, int what, void* self, void* socket_ctx);
  static int on_timer(CURLM* multi, long timeout_ms, void* self);
  static size_t on_body(char* data, size_t size, size_t count, void* transfer);
  static void on_poll(uv_poll_t* handle, int status, int events);
  static void on_timeout(uv_timer_t* timer);
  static void on_resume(uv_idle_t* idle);
  // Decodes what `t` holds within the turn's budget and hands it on; false when the
  // transfer must end (t->failure says why).
  bool pump(Transfer* t);
  bool deliver(Transfer* t, std::string_view decoded);
  // `t` goes on in a later turn.
  void defer(Transfer* t);
  void resume(Transfer* t);
  void drain_finished();
  void close_socket(SocketContext* ctx);
  void finish(Transfer* transfer, CURLcode code);
  void complete(Transfer* transfer, CURLcode code);

  uv_loop_t* loop_;
  HttpSettings settings_;
  CURLM* multi_ = nullptr;
  uv_timer_t timer_{};
  uv_idle_t resume_idle_{};  // runs deferred transfers on the next loop turn
  size_t turn_bytes_ = 0;    // decoded bytes handed on since this turn's curl call began
  std::unordered_set<CURL*> deferred_;
  bool closing_ = false;
  int open_handles_ = 0;
  std::function<void()> closed_;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers_;
  std::unordered_set<SocketContext*> sockets_;  // each owns an open uv_poll_t
};

}  // namespace syncd
