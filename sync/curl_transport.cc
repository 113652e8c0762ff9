#include "sync/curl_transport.h"

#include <algorithm>
#include <cctype>
#include <mutex>

namespace syncd {

struct CurlTransport::Transfer {
  CurlTransport* owner = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  HttpResponse response;
  Callback done;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {};

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

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<CurlTransport::Transfer*>(user);
  size_t bytes = size * count;
  if (t->request.on_chunk) {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200) {
      t->request.on_chunk(std::string_view(data, bytes));
      return bytes;
    }
  }
  t->response.body.append(data, bytes);
  return bytes;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<CurlTransport::Transfer*>(user);
  size_t bytes = size * count;
  std::string line(data, bytes);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new response (after 100 Continue or a redirect)
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

int on_progress(void* user, curl_off_t, curl_off_t downloaded, curl_off_t, curl_off_t) {
  auto* t = static_cast<CurlTransport::Transfer*>(user);
  // Checked here as well as through CURLOPT_MAXFILESIZE, which chunked or compressed
  // responses can slip past.
  if (downloaded > 0 && t->response.body.size() > 0 &&
      static_cast<int64_t>(t->response.body.size()) > t->owner->max_response_bytes()) {
    t->too_large = true;
    return 1;  // abort the transfer
  }
  return 0;
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
  open_handles_ = 1;
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
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(settings_.low_speed_time_s));
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(settings_.max_response_bytes));
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding curl can decode
  curl_easy_setopt(e, CURLOPT_USERAGENT, settings_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
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
  curl_multi_socket_action(self->multi_, ctx->fd, flags, &running);
  self->drain_finished();
}

void CurlTransport::on_timeout(uv_timer_t* timer) {
  auto* self = static_cast<CurlTransport*>(timer->data);
  int running = 0;
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
  CURL* easy = t->easy;
  HttpResponse response = std::move(t->response);
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
  } else {
    response.status = 0;
    response.body.clear();
    response.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    if (t->too_large || code == CURLE_FILESIZE_EXCEEDED) {
      response.error = "response larger than http.max_response_bytes (" +
                       std::to_string(settings_.max_response_bytes) + " bytes)";
    } else {
      response.error = t->error[0] ? std::string(t->error) : curl_easy_strerror(code);
    }
  }
  Callback done = std::move(t->done);
  curl_multi_remove_handle(multi_, easy);
  transfers_.erase(easy);  // frees t
  if (done) done(std::move(response));
}

void CurlTransport::close(std::function<void()> done) {
  closing_ = true;
  closed_ = std::move(done);
  cancel_all();
  uv_timer_stop(&timer_);
  // Cleanup reports CURL_POLL_REMOVE for sockets still watched; their handles close.
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
  while (!sockets_.empty()) close_socket(*sockets_.begin());
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<CurlTransport*>(h->data);
    if (--self->open_handles_ == 0 && self->closed_) self->closed_();
  });
}

}  // namespace syncd
