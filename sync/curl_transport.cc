#include "sync/curl_transport.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>

#include "sync/body_decoder.h"

namespace syncd {

struct CurlTransport::Transfer {
  CurlTransport* owner = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  HttpResponse response;
  Callback done;
  char error[CURL_ERROR_SIZE] = {};
  size_t header_bytes = 0;
  bool body_started = false;  // the headers are complete: decoder and streaming are known
  bool streaming = false;     // a 200 answer to a stream request: the body goes to on_chunk
  std::unique_ptr<BodyDecoder> decoder;  // null: the body is not encoded
  bool curl_paused = false;              // on_body answered CURL_WRITEFUNC_PAUSE: curl holds bytes
  bool curl_finished = false;            // curl is done; decoded bytes are still to hand on
  CURLcode curl_code = CURLE_OK;
  std::string failure;     // why syncd ended the transfer (cap, headers, encoding, receiver)
  bool too_large = false;  // the failure is the body cap
  // The body so far, in parts of about kBodyPartBytes, joined once it is complete: one
  // string grown to 64 MiB copied 32 MiB (and faulted in 64) within one turn.
  std::vector<std::string> body_parts;
  size_t body_bytes = 0;

  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
};

struct CurlTransport::SocketContext {
  uv_poll_t poll{};
  curl_socket_t fd = CURL_SOCKET_BAD;
  CurlTransport* owner = nullptr;
};

namespace {

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<CurlTransport::Transfer*>(user);
  size_t bytes = size * count;
  t->header_bytes += bytes;
  if (t->header_bytes > CurlTransport::kMaxHeaderBytes) {
    t->failure =
        "response headers larger than " + std::to_string(CurlTransport::kMaxHeaderBytes) + " bytes";
    return 0;  // ends the transfer
  }
  std::string line(data, bytes);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new response (after 100 Continue)
    return bytes;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return bytes;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t value_start = line.find_first_not_of(" \t", colon + 1);
  t->response.headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
  return bytes;
}

}  // namespace

CurlTransport::CurlTransport(uv_loop_t* loop, HttpSettings settings)
    : loop_(loop), settings_(std::move(settings)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_idle_init(loop_, &resume_idle_);
  resume_idle_.data = this;
  open_handles_ = 2;
}

CurlTransport::~CurlTransport() {
  // close() must have run; if not (start-up failure paths), at least free curl's side.
  if (multi_ != nullptr) {
    cancel_all();
    curl_multi_cleanup(multi_);
  }
}

void CurlTransport::send(HttpRequest request, Callback done) {
  auto transfer = std::make_unique<Transfer>();
  Transfer* t = transfer.get();
  t->owner = this;
  t->request = std::move(request);
  t->done = std::move(done);
  t->easy = curl_easy_init();
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connect_timeout_ms));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   t->request.on_chunk ? 0L : static_cast<long>(settings_.timeout_ms));
  if (t->request.on_chunk) {
    // A quiet stream sends a heartbeat of a byte or two every few seconds, far below any
    // low-speed limit: TCP keepalive finds a dead peer instead.
    const long idle_s = std::max<long>(1, static_cast<long>(settings_.low_speed_time_s));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, idle_s);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, std::max<long>(1, idle_s / 2));
  } else {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings_.low_speed_time_s));
  }
  // Refuses an announced Content-Length over the cap before any byte; deliver() checks
  // the decoded bytes.
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(settings_.max_response_bytes));
  // Decoded by BodyDecoder, a bounded piece per turn, not by curl all at once. A stream
  // asks for none: a compressing server (PouchDB Server's) holds a stream's small writes
  // in its compressor, heartbeats too, until the low-speed timeout cuts it.
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, t->request.on_chunk ? "identity" : "gzip, deflate");
  curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  // A redirect is not the server's answer but a captive portal's or a misconfigured
  // proxy's; following it would carry the bearer token and the body elsewhere.
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, settings_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(e, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  const bool verify = !settings_.insecure_skip_verify;
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
  if (!settings_.ca_file.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, settings_.ca_file.c_str());
    curl_easy_setopt(e, CURLOPT_CAPATH, nullptr);  // that CA only, not the system's too
  }
  if (!settings_.client_cert.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, settings_.client_cert.c_str());
    curl_easy_setopt(e, CURLOPT_SSLKEY, settings_.client_key.c_str());
  }
  if (!settings_.pinned_pubkeys.empty()) {
    curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, settings_.pinned_pubkeys.c_str());
  }
  // No CURLOPT_PIPEWAIT: libcurl 7.88 parks a request that waits for a connection to say
  // whether it multiplexes, and an HTTP/1.1 answer never wakes it, so a push sent with
  // the event stream waited (untimed) until the stream ended. An HTTP/2 connection is
  // still shared once it is up; a request sent before that opens its own.
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  for (const auto& h : t->request.headers) t->headers = curl_slist_append(t->headers, h.c_str());
  if (t->request.method == "POST") {
    // No "Expect: 100-continue" round trip before a body.
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t->request.body.size()));
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  transfers_[e] = std::move(transfer);
  CURLMcode rc = curl_multi_add_handle(multi_, e);
  if (rc != CURLM_OK) {
    t->response.error = std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc);
    Callback callback = std::move(t->done);
    HttpResponse response = std::move(t->response);
    transfers_.erase(e);
    callback(std::move(response));
  }
}

void CurlTransport::cancel_all() {
  for (auto& [easy, transfer] : transfers_) curl_multi_remove_handle(multi_, easy);
  transfers_.clear();
  deferred_.clear();
}

size_t CurlTransport::on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  CurlTransport* self = t->owner;
  const size_t bytes = size * count;
  if (!t->body_started) {
    t->body_started = true;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    t->streaming = t->request.on_chunk && status == 200;
    try {
      t->decoder = BodyDecoder::for_encoding(t->response.header("content-encoding"));
    } catch (const std::invalid_argument& e) {
      t->failure = e.what();
      return 0;
    }
  }
  const bool spent = self->turn_bytes_ >= kTurnBudgetBytes;
  if (spent || (t->decoder && t->decoder->has_input())) {
    t->curl_paused = true;  // curl keeps `data` and hands it over again once unpaused
    self->defer(t);
    return CURL_WRITEFUNC_PAUSE;
  }
  if (!t->decoder) {
    self->turn_bytes_ += bytes;
    return self->deliver(t, std::string_view(data, bytes)) ? bytes : 0;
  }
  t->decoder->feed(std::string_view(data, bytes));
  return self->pump(t) ? bytes : 0;
}

bool CurlTransport::pump(Transfer* t) {
  while (t->decoder->has_input()) {
    if (turn_bytes_ >= kTurnBudgetBytes) {
      defer(t);
      return true;
    }
    std::string decoded;
    if (auto error = t->decoder->decode(kTurnBudgetBytes - turn_bytes_, decoded)) {
      t->failure = *error;
      return false;
    }
    turn_bytes_ += decoded.size();
    if (!deliver(t, decoded)) return false;
    if (decoded.empty()) break;  // zlib needs more wire bytes
  }
  return true;
}

bool CurlTransport::deliver(Transfer* t, std::string_view decoded) {
  if (decoded.empty()) return true;
  if (t->streaming) {
    if (t->request.on_chunk(decoded)) return true;
    t->failure = "stream ended by syncd";
    return false;
  }
  if (t->body_bytes + decoded.size() > static_cast<size_t>(settings_.max_response_bytes)) {
    t->failure = "response larger than http.max_response_bytes (" +
                 std::to_string(settings_.max_response_bytes) + " bytes, decoded)";
    t->too_large = true;
    return false;
  }
  constexpr size_t kBodyPartBytes = 1 << 20;
  if (t->body_parts.empty() || t->body_parts.back().size() + decoded.size() > kBodyPartBytes) {
    t->body_parts.emplace_back();
  }
  t->body_parts.back().append(decoded);
  t->body_bytes += decoded.size();
  return true;
}

void CurlTransport::defer(Transfer* t) {
  deferred_.insert(t->easy);
  // An idle handle, not a 0 ms timer: libuv 1.44 runs a timer started from a timer
  // callback again in the same phase, so a body decoded 256 KiB a "turn" held the loop
  // for all of it (16 MiB, 55 ms).
  uv_idle_start(&resume_idle_, on_resume);
}

void CurlTransport::on_resume(uv_idle_t* idle) {
  uv_idle_stop(idle);
  auto* self = static_cast<CurlTransport*>(idle->data);
  std::unordered_set<CURL*> deferred;
  deferred.swap(self->deferred_);
  self->turn_bytes_ = 0;
  for (CURL* easy : deferred) {
    auto it = self->transfers_.find(easy);
    if (it != self->transfers_.end()) self->resume(it->second.get());
  }
  self->drain_finished();
}

void CurlTransport::resume(Transfer* t) {
  if (t->decoder && t->decoder->has_input()) {
    if (!pump(t)) return complete(t, CURLE_WRITE_ERROR);
    if (t->decoder->has_input()) return;  // deferred again
  }
  if (t->curl_finished) return complete(t, t->curl_code);
  if (t->curl_paused) {
    t->curl_paused = false;
    // Hands curl's kept bytes to on_body at once, which may defer the transfer again.
    CURLcode rc = curl_easy_pause(t->easy, CURLPAUSE_CONT);
    if (rc != CURLE_OK) complete(t, rc);
  }
}

int CurlTransport::on_socket(CURL*, curl_socket_t fd, int what, void* self_ptr, void* socket_ptr) {
  auto* self = static_cast<CurlTransport*>(self_ptr);
  auto* ctx = static_cast<SocketContext*>(socket_ptr);
  if (what == CURL_POLL_REMOVE) {
    if (ctx != nullptr) {
      if (!self->closing_) curl_multi_assign(self->multi_, fd, nullptr);
      self->close_socket(ctx);
    }
    return 0;
  }
  if (ctx == nullptr) {
    ctx = new SocketContext;
    ctx->fd = fd;
    ctx->owner = self;
    ctx->poll.data = ctx;
    if (uv_poll_init_socket(self->loop_, &ctx->poll, fd) != 0) {
      delete ctx;
      return -1;
    }
    ++self->open_handles_;
    self->sockets_.insert(ctx);
    curl_multi_assign(self->multi_, fd, ctx);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(&ctx->poll, events, on_poll);
  return 0;
}

void CurlTransport::close_socket(SocketContext* ctx) {
  sockets_.erase(ctx);
  uv_poll_stop(&ctx->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&ctx->poll), [](uv_handle_t* h) {
    auto* c = static_cast<SocketContext*>(h->data);
    CurlTransport* owner = c->owner;
    delete c;
    if (--owner->open_handles_ == 0 && owner->closed_) owner->closed_();
  });
}

int CurlTransport::on_timer(CURLM*, long timeout_ms, void* self_ptr) {
  auto* self = static_cast<CurlTransport*>(self_ptr);
  if (timeout_ms < 0) {
    uv_timer_stop(&self->timer_);
  } else {
    uv_timer_start(&self->timer_, on_timeout, static_cast<uint64_t>(timeout_ms), 0);
  }
  return 0;
}

void CurlTransport::on_poll(uv_poll_t* handle, int status, int events) {
  auto* ctx = static_cast<SocketContext*>(handle->data);
  CurlTransport* self = ctx->owner;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running = 0;
  self->turn_bytes_ = 0;
  curl_multi_socket_action(self->multi_, ctx->fd, flags, &running);
  self->drain_finished();
}

void CurlTransport::on_timeout(uv_timer_t* timer) {
  auto* self = static_cast<CurlTransport*>(timer->data);
  int running = 0;
  self->turn_bytes_ = 0;
  curl_multi_socket_action(self->multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  self->drain_finished();
}

void CurlTransport::drain_finished() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
    if (t != nullptr) finish(t, msg->data.result);
  }
}

void CurlTransport::finish(Transfer* t, CURLcode code) {
  if (code == CURLE_OK && t->decoder && t->decoder->has_input()) {
    // curl has every byte; what it decodes to is handed on in later turns first.
    t->curl_finished = true;
    t->curl_code = code;
    defer(t);
    return;
  }
  complete(t, code);
}

void CurlTransport::complete(Transfer* t, CURLcode code) {
  CURL* easy = t->easy;
  if (code == CURLE_OK && t->decoder && !t->decoder->ended()) {
    t->failure = "the compressed body is cut short (its stream has no end)";
    code = CURLE_BAD_CONTENT_ENCODING;
  }
  HttpResponse response = std::move(t->response);
  if (code == CURLE_OK) {
    if (t->body_parts.size() == 1) {
      response.body = std::move(t->body_parts.front());
    } else {
      response.body.reserve(t->body_bytes);
      for (const std::string& part : t->body_parts) response.body.append(part);
    }
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
  } else {
    response.status = 0;
    response.body.clear();
    response.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    curl_off_t connected_us = 0;
    curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connected_us);
    response.connect_failed =
        code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY ||
        code == CURLE_COULDNT_CONNECT || (code == CURLE_OPERATION_TIMEDOUT && connected_us == 0);
    response.too_large = t->too_large || code == CURLE_FILESIZE_EXCEEDED;
    if (!t->failure.empty()) {
      response.error = t->failure;
    } else if (code == CURLE_FILESIZE_EXCEEDED) {
      response.error = "response larger than http.max_response_bytes (" +
                       std::to_string(settings_.max_response_bytes) + " bytes)";
    } else {
      response.error = describe_transfer_error(
          code, t->error[0] ? std::string(t->error) : curl_easy_strerror(code));
    }
  }
  Callback done = std::move(t->done);
  deferred_.erase(easy);
  curl_multi_remove_handle(multi_, easy);
  transfers_.erase(easy);  // frees t
  if (done) done(std::move(response));
}

void CurlTransport::close(std::function<void()> done) {
  closing_ = true;
  closed_ = std::move(done);
  cancel_all();
  uv_timer_stop(&timer_);
  uv_idle_stop(&resume_idle_);
  // Cleanup reports CURL_POLL_REMOVE for sockets still watched; their handles close.
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
  while (!sockets_.empty()) close_socket(*sockets_.begin());
  for (uv_handle_t* handle :
       {reinterpret_cast<uv_handle_t*>(&timer_), reinterpret_cast<uv_handle_t*>(&resume_idle_)}) {
    uv_close(handle, [](uv_handle_t* h) {
      auto* self = static_cast<CurlTransport*>(h->data);
      if (--self->open_handles_ == 0 && self->closed_) self->closed_();
    });
  }
}

}  // namespace syncd

namespace syncd {

std::string describe_transfer_error(CURLcode code, const std::string& curl_text) {
  const auto mentions = [&curl_text](const char* part) {
    return curl_text.find(part) != std::string::npos;
  };
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
      if (mentions("expired")) {
        return "TLS: the server's certificate has expired (" + curl_text + ")";
      }
      if (mentions("subject name") || mentions("host name")) {
        return "TLS: the server's certificate is not for this host name (" + curl_text + ")";
      }
      return "TLS: the server's certificate is not trusted; check tls.ca_file (" + curl_text + ")";
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      return "TLS: the server's public key matches no tls.pinned_pubkey (" + curl_text + ")";
    case CURLE_SSL_CERTPROBLEM:
      return "TLS: tls.client_cert or tls.client_key cannot be used (" + curl_text + ")";
    case CURLE_SSL_CACERT_BADFILE:
      return "TLS: tls.ca_file cannot be used (" + curl_text + ")";
    default:
      break;
  }
  // TLS 1.3 sends the server's refusal of a missing client certificate after the
  // handshake, so it arrives as a read error.
  if (mentions("certificate required") || code == CURLE_SSL_CLIENTCERT) {
    return "TLS: the server requires a client certificate (tls.client_cert, tls.client_key): " +
           curl_text;
  }
  if (mentions("unknown ca") || mentions("bad certificate")) {
    return "TLS: the server refused the client certificate (tls.client_cert): " + curl_text;
  }
  if (code == CURLE_SSL_CONNECT_ERROR) return "TLS handshake failed: " + curl_text;
  return curl_text;
}

}  // namespace syncd
