#include "daemon/ipc_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "daemon/line_framer.h"
#include "daemon/logger.h"
#include "daemon/rpc_error.h"

namespace syncd {

struct IpcServer::Connection {
  Connection(IpcServer* s, size_t max_frame) : server(s), framer(max_frame) { pipe.data = this; }
  uv_pipe_t pipe{};
  IpcServer* server;
  LineFramer framer;
  std::vector<std::string> inbox;  // complete frames waiting for the turn
  bool oversize = false;           // a frame was over the limit: answer, then close
  bool staged = false;
  std::string outbox;  // answers of this turn, written at its end
  bool in_flush = false;
  size_t queued_bytes = 0;  // handed to libuv, not yet written
  bool reading = true;
  bool eof = false;  // the peer closed its side: answer what was asked, then close
  bool close_when_flushed = false;
  bool closing = false;
  Subscriptions subscriptions;
  uid_t uid = static_cast<uid_t>(-1);
};

namespace {
struct WriteRequest {
  uv_write_t req{};
  std::string data;
  IpcServer::Connection* conn = nullptr;
};

std::string uv_message(int code) { return std::string(uv_strerror(code)); }

// True when something accepts connections on `path`.
bool socket_is_live(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}
}  // namespace

IpcServer::IpcServer(uv_loop_t* loop, JournaledWrites& writes, RpcHandler& handler,
                     Metrics& metrics, IpcLimits limits)
    : loop_(loop),
      writes_(writes),
      handler_(handler),
      metrics_(metrics),
      limits_(std::move(limits)) {
  uv_check_init(loop_, &turn_check_);
  turn_check_.data = this;
  uv_check_start(&turn_check_, on_check);
  uv_idle_init(loop_, &turn_idle_);
  turn_idle_.data = this;
  uv_timer_init(loop_, &drain_timer_);
  drain_timer_.data = this;
  handles_open_ = 3;
}

IpcServer::~IpcServer() = default;

void IpcServer::set_limits(IpcLimits limits) {
  limits_ = std::move(limits);
  for (Connection* c : connections_) c->framer.set_max_line_bytes(limits_.max_frame_bytes);
}

void IpcServer::listen(const std::string& path) {
  sockaddr_un probe{};
  if (path.size() >= sizeof probe.sun_path) {
    throw std::runtime_error("socket path " + path + " is " + std::to_string(path.size()) +
                             " bytes; Unix sockets allow at most " +
                             std::to_string(sizeof probe.sun_path - 1));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error("socket path " + path +
                               " exists and is not a socket; not touching it");
    }
    if (socket_is_live(path)) {
      throw std::runtime_error("socket " + path + " is in use by another process");
    }
    log_info("replacing stale socket " + path);
    ::unlink(path.c_str());
  }
  int rc = uv_pipe_init(loop_, &listener_, 0);
  if (rc != 0) throw std::runtime_error("uv_pipe_init: " + uv_message(rc));
  listener_.data = this;
  ++handles_open_;
  mode_t old_mask = ::umask(0117);  // the socket is born 0660: no window with wider access
  rc = uv_pipe_bind(&listener_, path.c_str());
  ::umask(old_mask);
  if (rc != 0) throw std::runtime_error("cannot bind socket " + path + ": " + uv_message(rc));
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, on_connection);
  if (rc != 0) throw std::runtime_error("cannot listen on " + path + ": " + uv_message(rc));
  path_ = path;
  listening_ = true;
}

void IpcServer::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<IpcServer*>(server->data);
  if (status < 0) {
    log_warning("accept failed: " + uv_message(status));
    return;
  }
  self->accept_one();
}

bool IpcServer::peer_allowed(Connection& conn, std::string& why) {
  int fd = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(&conn.pipe), &fd);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    why = std::string("cannot read peer credentials: ") + std::strerror(errno);
    return limits_.allowed_uids.empty() && limits_.allowed_gids.empty();
  }
  conn.uid = cred.uid;
  if (limits_.allowed_uids.empty() && limits_.allowed_gids.empty()) return true;
  if (cred.uid == 0 || cred.uid == ::geteuid()) return true;
  auto has = [](const std::vector<int64_t>& ids, int64_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  if (has(limits_.allowed_uids, cred.uid) || has(limits_.allowed_gids, cred.gid)) return true;
  why = "uid " + std::to_string(cred.uid) + " gid " + std::to_string(cred.gid) +
        " is not in ipc.allowed_uids or ipc.allowed_gids";
  return false;
}

void IpcServer::accept_one() {
  auto* conn = new Connection(this, limits_.max_frame_bytes);
  uv_pipe_init(loop_, &conn->pipe, 0);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener_),
                reinterpret_cast<uv_stream_t*>(&conn->pipe)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&conn->pipe),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return;
  }
  connections_.insert(conn);
  ++metrics_.connections_accepted;
  ++metrics_.connections_open;
  std::string why;
  if (!peer_allowed(*conn, why)) {
    ++metrics_.connections_refused;
    log_warning("refused a client: " + why);
    send(*conn, RpcHandler::error_line(rpc_code::kForbidden, "forbidden", why));
    conn->close_when_flushed = true;
    flush(*conn);
    return;
  }
  if (connections_.size() > limits_.max_clients) {
    ++metrics_.connections_refused;
    std::string message =
        "too many clients (ipc.max_clients is " + std::to_string(limits_.max_clients) + ")";
    log_warning("refused a client: " + message);
    send(*conn, RpcHandler::error_line(rpc_code::kBusy, "too_many_clients", message));
    conn->close_when_flushed = true;
    flush(*conn);
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&conn->pipe), on_alloc, on_read);
}

void IpcServer::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* conn = static_cast<Connection*>(handle->data);
  // Reads are handled one at a time on this thread, so one buffer serves every client.
  buf->base = conn->server->read_buffer_;
  buf->len = sizeof conn->server->read_buffer_;
}

void IpcServer::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* conn = static_cast<Connection*>(stream->data);
  IpcServer* self = conn->server;
  if (conn->closing) return;
  if (nread < 0) {
    uv_read_stop(stream);
    conn->reading = false;
    if (nread != UV_EOF) {
      self->close(*conn);
      return;
    }
    conn->eof = true;
    if (conn->inbox.empty() && conn->queued_bytes == 0 && conn->outbox.empty()) self->close(*conn);
    return;
  }
  if (nread == 0) return;
  bool ok = conn->framer.feed(std::string_view(buf->base, static_cast<size_t>(nread)),
                              [conn](std::string_view line) {
                                if (!line.empty()) conn->inbox.emplace_back(line);
                              });
  if (!ok) {
    conn->oversize = true;
    uv_read_stop(stream);
    conn->reading = false;
  }
  if ((!conn->inbox.empty() || conn->oversize) && !conn->staged) {
    conn->staged = true;
    self->staged_.push_back(conn);
    uv_idle_start(&self->turn_idle_, [](uv_idle_t*) {});
  }
}

void IpcServer::on_check(uv_check_t* check) { static_cast<IpcServer*>(check->data)->run_turn(); }

void IpcServer::run_turn() {
  if (staged_.empty()) {
    uv_idle_stop(&turn_idle_);
    return;
  }
  struct Answer {
    Connection* conn;
    HandledFrame frame;
    size_t writes = 0;
    size_t changes_from = 0;  // where its entries in `changes` begin
  };
  std::vector<Connection*> staged;
  staged.swap(staged_);
  std::vector<Answer> answers;
  std::vector<ChangeEvent> changes;
  // Answers before this index hold only durable writes: the journal was synced after
  // them (at the end of the turn, or earlier when a frame needed the tables settled).
  size_t durable_upto = 0;
  for (Connection* conn : staged) {
    conn->staged = false;
    if (conn->closing) continue;
    for (const std::string& text : conn->inbox) {
      CallContext ctx{conn->subscriptions, changes};
      const size_t changes_from = changes.size();
      HandledFrame frame = handler_.handle_frame(text, ctx);
      if (frame.storage_failed) log_error("storage error: " + frame.storage_error);
      answers.push_back(Answer{conn, std::move(frame), ctx.writes, changes_from});
      if (!writes_.has_staged()) durable_upto = answers.size();
    }
    conn->inbox.clear();
  }
  std::string failure;
  bool full = false;
  try {
    writes_.commit_turn();
    durable_upto = answers.size();
  } catch (const SqliteError& e) {
    ++metrics_.storage_errors;
    writes_.abort_turn();
    failure = e.what();
    full = e.is_full();
  }
  size_t writes = 0;
  if (!failure.empty()) {
    // The writes the failed sync would have made durable are undone; so are their
    // answers and notifications. Earlier frames stand.
    if (durable_upto < answers.size()) {
      changes.erase(changes.begin() + static_cast<long>(answers[durable_upto].changes_from),
                    changes.end());
    }
    size_t undone = 0;
    for (size_t i = durable_upto; i < answers.size(); ++i) {
      if (answers[i].writes == 0) continue;
      ++undone;
      answers[i].frame.response = RpcHandler::failure_response(
          answers[i].frame, rpc_code::kStorage, full ? "storage_full" : "storage_error",
          "not stored: " + failure);
    }
    log_error("journal sync failed, " + std::to_string(undone) +
              " frames with writes answered with an error: " + failure);
  }
  for (size_t i = 0; i < durable_upto; ++i) writes += answers[i].writes;
  if (writes > 0) {
    metrics_.writes += writes;
    ++metrics_.commits;
    metrics_.commit_batch_max = std::max<uint64_t>(metrics_.commit_batch_max, writes);
    if (on_commit_) on_commit_();
  }
  for (auto& a : answers) {
    if (!a.frame.response.empty()) send(*a.conn, a.frame.response);
  }
  for (Connection* conn : staged) {
    if (conn->oversize && !conn->closing && conn->inbox.empty()) {
      ++metrics_.frames_oversize;
      send(*conn, RpcHandler::error_line(rpc_code::kInvalidRequest, "too_large",
                                         "frame exceeds ipc.max_frame_bytes (" +
                                             std::to_string(limits_.max_frame_bytes) +
                                             " bytes); closing"));
      conn->close_when_flushed = true;
      conn->oversize = false;
    }
  }
  notify_subscribers(changes);
  std::vector<Connection*> to_flush;
  to_flush.swap(flush_);
  for (Connection* conn : to_flush) {
    conn->in_flush = false;
    flush(*conn);
  }
  if (staged_.empty()) uv_idle_stop(&turn_idle_);
}

void IpcServer::publish(const std::vector<ChangeEvent>& changes) {
  notify_subscribers(changes);
  std::vector<Connection*> to_flush;
  to_flush.swap(flush_);
  for (Connection* conn : to_flush) {
    conn->in_flush = false;
    flush(*conn);
  }
}

void IpcServer::notify_subscribers(const std::vector<ChangeEvent>& changes) {
  if (changes.empty()) return;
  for (Connection* conn : connections_) {
    if (conn->closing || conn->subscriptions.filters.empty()) continue;
    for (const auto& change : changes) {
      for (const auto& [sub_id, filter] : conn->subscriptions.filters) {
        if (filter && *filter != change.collection) continue;
        JsonDocument doc;
        auto& alloc = doc.GetAllocator();
        doc.SetObject();
        doc.AddMember("jsonrpc", "2.0", alloc);
        doc.AddMember("method", "change", alloc);
        JsonValue params(rapidjson::kObjectType);
        params.AddMember("subscription", JsonValue(sub_id), alloc);
        params.AddMember("collection", json_string(change.collection, alloc), alloc);
        params.AddMember("id", json_string(change.id, alloc), alloc);
        JsonValue data;
        if (change.data) {
          JsonDocument parsed;
          if (!parse_json(*change.data, parsed)) data.CopyFrom(parsed, alloc);
        }
        params.AddMember("data", data, alloc);
        params.AddMember("origin", rapidjson::StringRef(change.origin), alloc);
        doc.AddMember("params", params, alloc);
        send(*conn, to_json(doc));
        ++metrics_.notifications;
      }
    }
  }
}

void IpcServer::send(Connection& conn, std::string_view line) {
  if (conn.closing) return;
  conn.outbox.append(line.data(), line.size());
  conn.outbox.push_back('\n');
  if (!conn.in_flush) {
    conn.in_flush = true;
    flush_.push_back(&conn);
  }
}

void IpcServer::flush(Connection& conn) {
  if (conn.closing) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&conn.pipe);
  if (!conn.outbox.empty() && conn.queued_bytes == 0) {
    uv_buf_t buf = uv_buf_init(conn.outbox.data(), static_cast<unsigned>(conn.outbox.size()));
    int n = uv_try_write(stream, &buf, 1);
    if (n > 0) {
      conn.outbox.erase(0, static_cast<size_t>(n));
    } else if (n != UV_EAGAIN && n != 0) {
      close(conn);
      return;
    }
  }
  if (!conn.outbox.empty()) {
    auto* req = new WriteRequest;
    req->data.swap(conn.outbox);
    req->conn = &conn;
    req->req.data = req;
    uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
    int rc = uv_write(&req->req, stream, &buf, 1, on_write);
    if (rc != 0) {
      delete req;
      close(conn);
      return;
    }
    conn.queued_bytes += req->data.size();
  }
  if (conn.queued_bytes > limits_.max_output_bytes) {
    ++metrics_.slow_reader_disconnects;
    log_warning("disconnecting a client that does not read its answers (" +
                std::to_string(conn.queued_bytes) + " bytes unsent, over ipc.max_output_bytes)");
    close(conn);
    return;
  }
  // Backpressure: a client that pipelines faster than it reads is not read from until
  // it has taken most of its answers.
  if (conn.reading && conn.queued_bytes > limits_.max_output_bytes / 2) {
    uv_read_stop(stream);
    conn.reading = false;
  }
  if (conn.queued_bytes == 0 && (conn.close_when_flushed || (conn.eof && conn.inbox.empty()))) {
    close(conn);
  }
}

void IpcServer::on_write(uv_write_t* req, int status) {
  auto* write = static_cast<WriteRequest*>(req->data);
  Connection& conn = *write->conn;
  IpcServer* self = conn.server;
  conn.queued_bytes -= write->data.size();
  delete write;
  if (conn.closing) return;
  if (status < 0) {
    self->close(conn);
    return;
  }
  if (conn.queued_bytes == 0 && (conn.close_when_flushed || (conn.eof && conn.inbox.empty()))) {
    self->close(conn);
    return;
  }
  if (!conn.reading && !conn.eof && !conn.oversize && !self->shutting_down_ &&
      conn.queued_bytes <= self->limits_.max_output_bytes / 4) {
    conn.reading = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&conn.pipe), on_alloc, on_read);
  }
}

void IpcServer::close(Connection& conn) {
  if (conn.closing) return;
  conn.closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&conn.pipe), on_close);
}

void IpcServer::on_close(uv_handle_t* handle) {
  auto* conn = static_cast<Connection*>(handle->data);
  IpcServer* self = conn->server;
  self->connections_.erase(conn);
  --self->metrics_.connections_open;
  // A closed connection may still be listed for this turn; drop it there too.
  std::erase(self->staged_, conn);
  std::erase(self->flush_, conn);
  delete conn;
  self->maybe_finish_shutdown();
}

void IpcServer::shutdown(uint64_t drain_ms, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  auto close_handle = [this](uv_handle_t* h) {
    uv_close(h, [](uv_handle_t* handle) {
      auto* self = static_cast<IpcServer*>(handle->data);
      --self->handles_open_;
      self->maybe_finish_shutdown();
    });
  };
  if (listening_) {
    listening_ = false;
    close_handle(reinterpret_cast<uv_handle_t*>(&listener_));
    ::unlink(path_.c_str());
  }
  // Frames already read are answered by a last turn; nothing new is read.
  run_turn();
  uv_check_stop(&turn_check_);
  close_handle(reinterpret_cast<uv_handle_t*>(&turn_check_));
  close_handle(reinterpret_cast<uv_handle_t*>(&turn_idle_));
  for (Connection* conn : connections_) {
    if (conn->closing) continue;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&conn->pipe));
    conn->reading = false;
    conn->close_when_flushed = true;
    if (conn->queued_bytes == 0) close(*conn);
  }
  uv_timer_start(
      &drain_timer_,
      [](uv_timer_t* timer) {
        auto* self = static_cast<IpcServer*>(timer->data);
        for (Connection* conn : self->connections_) self->close(*conn);
        uv_close(reinterpret_cast<uv_handle_t*>(timer), [](uv_handle_t* handle) {
          auto* s = static_cast<IpcServer*>(handle->data);
          --s->handles_open_;
          s->maybe_finish_shutdown();
        });
      },
      drain_ms, 0);
  maybe_finish_shutdown();
}

void IpcServer::maybe_finish_shutdown() {
  if (!shutting_down_ || !shutdown_done_) return;
  if (connections_.empty() && uv_is_active(reinterpret_cast<uv_handle_t*>(&drain_timer_))) {
    uv_timer_stop(&drain_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), [](uv_handle_t* handle) {
      auto* s = static_cast<IpcServer*>(handle->data);
      --s->handles_open_;
      s->maybe_finish_shutdown();
    });
    return;
  }
  if (connections_.empty() && handles_open_ == 0) {
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done();
  }
}

}  // namespace syncd
