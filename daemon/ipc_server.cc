#include "daemon/ipc_server.h"

#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "daemon/line_framer.h"
#include "daemon/notification_lines.h"
#include "daemon/output_queue.h"
#include "daemon/rpc_error.h"
#include "util/logger.h"

namespace syncd {

namespace {
// A turn's work: requests in all (a batch's items count one each), given out in rounds
// of kRoundRequests to each connection that has work, and the answer bytes after which
// the turn ends early. 256 puts are about 2.5 ms of the loop's time on the benchmark
// machine (bench/README.md, hostile_clients); a pipelining client still shares one
// journal sync among 256 writes.
constexpr size_t kTurnRequests = 256;
constexpr size_t kRoundRequests = 64;
// A write's notifications count in the turn's budget too: this many notifications cost
// about what one request costs (a put is ~8 µs of the loop, a notification 0.1 to 0.25:
// its share of a memcpy into fresh pages). With 100 subscribers a turn holds 64 writes.
constexpr size_t kNotificationsPerRequest = 32;
// While the applier is behind, a connection's writes in a turn; one with more to write
// then waits for the applier's next report. A client writing one document at a time is
// not slowed; a batch or a pipelining writer goes at the applier's pace rather than
// have the loop apply its writes while every other client waits (bench/README.md,
// hostile_clients).
constexpr size_t kPacedWrites = 8;
constexpr size_t kTurnAnswerBytes = 4 << 20;
// Frames read but not worked yet, per connection, past which it is not read from.
constexpr size_t kInboxBytes = 256 << 10;
// Freed output memory (below the peak) after which glibc is asked to return it: freed
// chunks are in the middle of the heap, where its trim threshold never reaches.
constexpr size_t kTrimBytes = 8 << 20;
constexpr uint64_t kTrimDelayMs = 50;
}  // namespace

struct IpcServer::Connection {
  Connection(IpcServer* s, size_t max_frame)
      : server(s), framer(max_frame), out(s->output_bytes_), later(s->output_bytes_) {
    pipe.data = this;
    write_req.data = this;
  }
  uv_pipe_t pipe{};
  IpcServer* server;
  LineFramer framer;
  std::deque<std::string> inbox;  // complete frames waiting for a turn
  size_t inbox_bytes = 0;
  std::unique_ptr<BatchInProgress> batch;  // a batch worked a slice per turn
  bool answer_open = false;                // its answer line has begun ("[" sent) and not ended
  bool oversize = false;                   // a frame was over the limit: answer, then close
  bool staged = false;
  bool parked = false;
  OutputQueue out;    // unsent bytes, in the order the client gets them
  OutputQueue later;  // notifications that wait for an open batch answer to end
  bool in_flush = false;
  uv_write_t write_req{};
  size_t in_flight = 0;                // bytes at the front of `out` handed to write_req
  size_t turn_answers = 0;             // answer bytes of this turn, not yet in `out`
  size_t turn_writes = 0;              // writes worked this turn
  uint64_t waiting_since_ms = 0;       // loop time its output last moved, or began to wait
  std::map<int64_t, uint64_t> missed;  // notifications dropped per subscription, untold
  bool lag_logged = false;             // said once per connection, not per episode
  bool reading = true;
  bool eof = false;  // the peer closed its side: answer what was asked, then close
  bool close_when_flushed = false;
  bool closing = false;
  Subscriptions subscriptions;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  CollectionAccess access;     // from ipc.grants and the peer's uid and gid
  size_t* uid_held = nullptr;  // output held for its uid's connections (not root's, syncd's)

  bool has_work() const { return !inbox.empty() || batch != nullptr; }
  size_t held() const { return out.held_bytes() + later.held_bytes(); }
  bool idle_output() const { return out.empty() && in_flight == 0 && !answer_open; }
};

namespace {
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
  handler_.set_max_batch(limits_.max_batch);
  uv_check_init(loop_, &turn_check_);
  turn_check_.data = this;
  uv_check_start(&turn_check_, on_check);
  uv_idle_init(loop_, &turn_idle_);
  turn_idle_.data = this;
  uv_timer_init(loop_, &drain_timer_);
  drain_timer_.data = this;
  uv_timer_init(loop_, &trim_timer_);
  trim_timer_.data = this;
  handles_open_ = 4;
  writes_.set_on_applied([this] { resume_parked(); });
}

IpcServer::~IpcServer() { writes_.set_on_applied(nullptr); }

void IpcServer::set_limits(IpcLimits limits) {
  limits_ = std::move(limits);
  handler_.set_max_batch(limits_.max_batch);
  for (Connection* c : connections_) {
    c->framer.set_max_line_bytes(limits_.max_frame_bytes);
    c->access = access_of(*c);
    c->subscriptions.max = limits_.max_subscriptions;
  }
}

size_t IpcServer::open_of_uid(uid_t uid) const {
  size_t n = 0;
  for (const Connection* c : connections_) n += !c->closing && c->uid == uid;
  return n;
}

CollectionAccess IpcServer::access_of(const Connection& conn) const {
  if (conn.uid == static_cast<uid_t>(-1)) {
    // Unknown peer: only when nothing is restricted.
    return limits_.grants.empty() ? CollectionAccess::everything() : CollectionAccess();
  }
  return CollectionAccess::for_peer(limits_.grants, conn.uid, conn.gid, ::geteuid());
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
  listening_ = true;                // from here shutdown() closes the handle, whatever fails next
  mode_t old_mask = ::umask(0117);  // the socket is born 0660: no window with wider access
  rc = uv_pipe_bind(&listener_, path.c_str());
  ::umask(old_mask);
  if (rc != 0) throw std::runtime_error("cannot bind socket " + path + ": " + uv_message(rc));
  path_ = path;  // ours: unlinked at shutdown
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, on_connection);
  if (rc != 0) throw std::runtime_error("cannot listen on " + path + ": " + uv_message(rc));
}

void IpcServer::adopt(int fd, const std::string& path) {
  int rc = uv_pipe_init(loop_, &listener_, 0);
  if (rc != 0) throw std::runtime_error("uv_pipe_init: " + uv_message(rc));
  listener_.data = this;
  ++handles_open_;
  owns_socket_file_ = false;
  listening_ = true;  // from here shutdown() closes the handle, whatever fails next
  path_ = path;
  rc = uv_pipe_open(&listener_, fd);
  if (rc != 0) throw std::runtime_error("cannot use the socket systemd passed: " + uv_message(rc));
  // SOMAXCONN, not less: listen() here sets the backlog of systemd's socket too.
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), SOMAXCONN, on_connection);
  if (rc != 0) throw std::runtime_error("cannot listen on " + path + ": " + uv_message(rc));
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
    conn.access = access_of(conn);
    return limits_.allowed_uids.empty() && limits_.allowed_gids.empty();
  }
  conn.uid = cred.uid;
  conn.gid = cred.gid;
  conn.access = access_of(conn);
  if (cred.uid != 0 && cred.uid != ::geteuid()) {
    conn.uid_held = &uid_output_bytes_[cred.uid];
    conn.out.count_in(conn.uid_held);
    conn.later.count_in(conn.uid_held);
  }
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
  conn->subscriptions.max = limits_.max_subscriptions;
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
    conn->reading = false;
    send(*conn, RpcHandler::error_line(rpc_code::kForbidden, "forbidden", why));
    conn->close_when_flushed = true;
    flush(*conn);
    return;
  }
  std::string reason;
  std::string message;
  if (connections_.size() > limits_.max_clients) {
    reason = "too_many_clients";
    message = "too many clients (ipc.max_clients is " + std::to_string(limits_.max_clients) + ")";
  } else if (conn->uid != 0 && conn->uid != ::geteuid() &&
             open_of_uid(conn->uid) > limits_.max_clients_per_uid) {
    ++metrics_.connections_refused_uid;
    reason = "too_many_connections";
    message = "too many connections of uid " + std::to_string(conn->uid) +
              " (ipc.max_clients_per_uid is " + std::to_string(limits_.max_clients_per_uid) + ")";
  }
  if (!reason.empty()) {
    ++metrics_.connections_refused;
    log_warning("refused a client: " + message);
    conn->reading = false;
    send(*conn, RpcHandler::error_line(rpc_code::kBusy, reason, message));
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
    if (!conn->has_work() && conn->idle_output()) self->close(*conn);
    return;
  }
  if (nread == 0) return;
  bool ok = conn->framer.feed(std::string_view(buf->base, static_cast<size_t>(nread)),
                              [conn](std::string_view line) {
                                if (line.empty()) return;
                                conn->inbox.emplace_back(line);
                                conn->inbox_bytes += line.size();
                              });
  if (!ok) {
    conn->oversize = true;
    uv_read_stop(stream);
    conn->reading = false;
  }
  if (conn->has_work() || conn->oversize) self->stage(*conn);
  self->update_reading(*conn);
}

void IpcServer::stage(Connection& conn) {
  if (conn.staged || conn.closing || (conn.parked && !draining_)) return;
  conn.staged = true;
  staged_.push_back(&conn);
  uv_idle_start(&turn_idle_, [](uv_idle_t*) {});
}

void IpcServer::park(Connection& conn) {
  if (conn.parked) return;
  conn.parked = true;
  parked_.push_back(&conn);
  ++metrics_.writers_paced;
}

void IpcServer::resume_parked() {
  // Whether or not the applier is still behind: each report lets every parked writer
  // have its share again, so none waits for ever behind the others.
  if (parked_.empty()) return;
  std::vector<Connection*> resumed;
  resumed.swap(parked_);
  for (Connection* conn : resumed) {
    conn->parked = false;
    if (conn->has_work() && may_work(*conn)) stage(*conn);
  }
}

bool IpcServer::may_work(const Connection& conn) const {
  return draining_ || conn.held() + conn.turn_answers < limits_.max_output_bytes / 2;
}

void IpcServer::update_reading(Connection& conn) {
  if (conn.closing || conn.eof || conn.oversize || conn.close_when_flushed || shutting_down_) {
    return;
  }
  // Backpressure with some slack either way: a client that sends faster than syncd
  // works its requests, or than it reads its answers, is not read from meanwhile.
  const bool full = conn.inbox_bytes >= kInboxBytes || conn.held() > limits_.max_output_bytes / 2;
  const bool room =
      conn.inbox_bytes < kInboxBytes / 2 && conn.held() <= limits_.max_output_bytes / 4;
  auto* stream = reinterpret_cast<uv_stream_t*>(&conn.pipe);
  if (conn.reading && full) {
    uv_read_stop(stream);
    conn.reading = false;
  } else if (!conn.reading && room) {
    conn.reading = true;
    uv_read_start(stream, on_alloc, on_read);
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
    enum class Part { line, slice, last_slice } part = Part::line;
  };
  std::vector<Connection*> active;
  active.swap(staged_);
  for (Connection* conn : active) conn->staged = false;
  std::erase_if(active, [](Connection* c) { return c->closing; });
  const std::vector<Connection*> turn = active;
  std::vector<Answer> answers;
  std::vector<ChangeEvent> changes;
  // Answers before this index hold only durable writes: the journal was synced after
  // them (at the end of the turn, or earlier when a frame needed the tables settled).
  size_t durable_upto = 0;
  size_t budget = kTurnRequests;
  size_t answer_bytes = 0;
  size_t subscribers = 0;  // that a change may be sent to (not dropping theirs)
  for (Connection* conn : connections_) {
    if (!conn->closing && !conn->subscriptions.filters.empty() && conn->missed.empty()) {
      subscribers += conn->subscriptions.filters.size();
    }
  }
  // What one write costs of the budget, its notifications included.
  const size_t write_cost = 1 + subscribers / kNotificationsPerRequest;
  auto turn_full = [&] { return budget == 0 || answer_bytes >= kTurnAnswerBytes; };
  // Rounds: each connection with work gets up to kRoundRequests, in staging order, until
  // the turn's budget is spent; the rest wait for the next turn, first in line.
  std::vector<Connection*> left;
  while (!active.empty()) {
    std::vector<Connection*> next_round;
    for (Connection* conn : active) {
      if (turn_full()) {
        left.push_back(conn);
        continue;
      }
      size_t quota = std::min(kRoundRequests, budget);
      bool paced = false;
      while (quota > 0 && conn->has_work() && may_work(*conn) && !turn_full()) {
        // Looked at before each request: a turn's writes can put the applier behind.
        const bool pace = !draining_ && writes_.applier_behind();
        if (pace && conn->turn_writes >= kPacedWrites) {
          paced = true;
          break;
        }
        CallContext ctx{conn->subscriptions, changes, 0, conn->uid, &conn->access};
        const size_t changes_from = changes.size();
        Answer answer{conn, {}, 0, changes_from};
        // A slice of a batch is sized as if each item were a write.
        size_t slice = std::max<size_t>(1, std::min(quota, budget / write_cost));
        if (pace) slice = std::max<size_t>(1, std::min(slice, kPacedWrites - conn->turn_writes));
        if (conn->batch) {
          answer.frame = handler_.continue_batch(*conn->batch, ctx, slice);
          answer.part = conn->batch->done() ? Answer::Part::last_slice : Answer::Part::slice;
          if (conn->batch->done()) conn->batch.reset();
        } else {
          std::string text = std::move(conn->inbox.front());
          conn->inbox.pop_front();
          conn->inbox_bytes -= text.size();
          answer.frame = handler_.handle_frame(text, ctx, slice, &conn->batch);
          if (conn->batch) answer.part = Answer::Part::slice;
        }
        if (answer.frame.storage_failed) log_error("storage error: " + answer.frame.storage_error);
        const size_t done = std::max<size_t>(1, answer.frame.requests);
        const size_t cost = done + ctx.writes * (write_cost - 1);
        quota -= std::min(quota, done);
        budget -= std::min(budget, cost);
        answer_bytes += answer.frame.response.size();
        conn->turn_answers += answer.frame.response.size();
        answer.writes = ctx.writes;
        conn->turn_writes += ctx.writes;
        answers.push_back(std::move(answer));
        if (!writes_.has_staged()) durable_upto = answers.size();
      }
      if (paced) {
        park(*conn);
      } else if (conn->has_work() && may_work(*conn)) {
        next_round.push_back(conn);
      }
    }
    active.swap(next_round);
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
    metrics_.commit_writes.observe(static_cast<double>(writes));
    if (on_commit_) on_commit_();
  }
  for (Connection* conn : turn) conn->turn_writes = 0;
  for (auto& a : answers) {
    a.conn->turn_answers = 0;
    if (a.part == Answer::Part::line) {
      if (!a.frame.response.empty()) send(*a.conn, a.frame.response);
    } else {
      send_slice(*a.conn, a.frame.response, a.part == Answer::Part::last_slice);
    }
  }
  for (Connection* conn : turn) {
    if (conn->oversize && !conn->closing && !conn->has_work() && !conn->close_when_flushed) {
      ++metrics_.frames_oversize;
      send(*conn, RpcHandler::error_line(rpc_code::kInvalidRequest, "too_large",
                                         "frame exceeds ipc.max_frame_bytes (" +
                                             std::to_string(limits_.max_frame_bytes) +
                                             " bytes); closing"));
      conn->close_when_flushed = true;
    }
  }
  notify_subscribers(changes);
  flush_all();
  for (Connection* conn : turn) update_reading(*conn);  // their inboxes went down
  for (Connection* conn : left) stage(*conn);
  if (staged_.empty()) uv_idle_stop(&turn_idle_);
}

void IpcServer::publish(const std::vector<ChangeEvent>& changes) {
  notify_subscribers(changes);
  flush_all();
}

void IpcServer::notify_subscribers(const std::vector<ChangeEvent>& changes) {
  if (changes.empty()) return;
  std::vector<ChangeLine> lines;
  std::unordered_map<std::string_view, uint64_t> per_collection;  // for lagging clients
  for (Connection* conn : connections_) {
    if (conn->closing || conn->subscriptions.filters.empty()) continue;
    if (!conn->missed.empty()) {
      // It gets none of them: count them, without a look at each.
      if (per_collection.empty()) {
        for (const auto& change : changes) ++per_collection[change.collection];
      }
      uint64_t readable = changes.size();
      if (!conn->access.reads_everything()) {
        readable = 0;
        for (const auto& [collection, count] : per_collection) {
          if (conn->access.may_read(collection)) readable += count;
        }
      }
      for (const auto& [sub_id, filter] : conn->subscriptions.filters) {
        auto it = filter ? per_collection.find(*filter) : per_collection.end();
        uint64_t n = !filter ? readable : it == per_collection.end() ? 0 : it->second;
        if (filter && !conn->access.may_read(*filter)) n = 0;  // a grant withdrawn at SIGHUP
        if (n == 0) continue;
        conn->missed[sub_id] += n;
        metrics_.notifications_dropped += n;
      }
      continue;
    }
    if (lines.empty()) {
      lines.reserve(changes.size());
      for (const auto& change : changes) lines.emplace_back(change);
    }
    std::vector<std::string> digits;
    for (const auto& [sub_id, filter] : conn->subscriptions.filters) {
      digits.push_back(std::to_string(sub_id));
    }
    for (size_t i = 0; i < changes.size() && !conn->closing; ++i) {
      size_t k = 0;
      for (const auto& [sub_id, filter] : conn->subscriptions.filters) {
        const std::string& id_text = digits[k++];
        if (filter && *filter != changes[i].collection) continue;
        if (!conn->access.may_read(changes[i].collection)) continue;
        notify(*conn, sub_id, id_text, lines[i]);
      }
    }
  }
}

void IpcServer::notify(Connection& conn, int64_t subscription, std::string_view id_text,
                       const ChangeLine& line) {
  if (conn.closing) return;
  // Once one is dropped, all are until the client has caught up and been told: what it
  // gets is a prefix of its changes, a gap notification, then live changes.
  if (!conn.missed.empty()) {
    ++conn.missed[subscription];
    ++metrics_.notifications_dropped;
    return;
  }
  OutputQueue& queue = conn.answer_open ? conn.later : conn.out;
  const size_t growth = queue.held_after(line.bytes(id_text)) - queue.held_bytes();
  if (conn.held() > 0 && conn.held() + growth > limits_.max_output_bytes) {
    conn.missed[subscription] = 1;
    ++metrics_.notifications_dropped;
    if (conn.lag_logged) return;
    conn.lag_logged = true;
    log_info("a subscriber (uid " + std::to_string(conn.uid) +
             ") does not read: " + std::to_string(conn.held()) +
             " bytes unsent (ipc.max_output_bytes); its notifications are dropped until it "
             "catches up, then it gets a gap notification");
    return;
  }
  make_room(conn, growth);
  if (conn.closing) return;
  if (conn.idle_output()) conn.waiting_since_ms = uv_now(loop_);
  line.append_to(queue, id_text);
  ++metrics_.notifications;
  if (!conn.in_flush) {
    conn.in_flush = true;
    flush_.push_back(&conn);
  }
}

void IpcServer::resume_notifications(Connection& conn) {
  if (conn.missed.empty() || conn.answer_open || conn.closing) return;
  if (conn.held() > limits_.max_output_bytes / 2) return;
  for (const auto& [subscription, missed] : conn.missed) {
    if (conn.subscriptions.filters.count(subscription) == 0) continue;  // unsubscribed since
    conn.out.append(gap_line(subscription, missed));
    conn.out.append("\n");
    ++metrics_.gaps;
  }
  conn.missed.clear();
}

void IpcServer::send(Connection& conn, std::string_view line) {
  if (conn.closing) return;
  make_room(conn, conn.out.held_after(line.size() + 1) - conn.out.held_bytes());
  if (conn.closing) return;
  if (conn.idle_output()) conn.waiting_since_ms = uv_now(loop_);
  conn.out.append(line);
  conn.out.append("\n");
  if (!conn.in_flush) {
    conn.in_flush = true;
    flush_.push_back(&conn);
  }
}

void IpcServer::send_slice(Connection& conn, const std::string& answers, bool last) {
  if (conn.closing) return;
  make_room(conn, conn.out.held_after(answers.size() + 1) - conn.out.held_bytes());
  if (conn.closing) return;
  if (conn.idle_output()) conn.waiting_since_ms = uv_now(loop_);
  // `answers` is this slice's array; the batch's answer is one array on one line, so
  // its brackets go once around all the slices' items.
  if (answers.size() > 2) {
    conn.out.append(conn.answer_open ? "," : "[");
    conn.out.append(std::string_view(answers).substr(1, answers.size() - 2));
    conn.answer_open = true;
  }
  if (last && conn.answer_open) {
    conn.out.append("]\n");
    conn.answer_open = false;
    conn.out.append_from(conn.later);
  }
  if (!conn.in_flush) {
    conn.in_flush = true;
    flush_.push_back(&conn);
  }
}

void IpcServer::flush_all() {
  note_output();
  std::vector<Connection*> to_flush;
  to_flush.swap(flush_);
  for (Connection* conn : to_flush) {
    conn->in_flush = false;
    flush(*conn);
  }
  note_output();
}

void IpcServer::flush(Connection& conn) {
  if (conn.closing || conn.in_flight > 0) return;  // its completion flushes again
  auto* stream = reinterpret_cast<uv_stream_t*>(&conn.pipe);
  uv_buf_t bufs[16];
  resume_notifications(conn);
  while (!conn.out.empty()) {
    const size_t n = conn.out.peek(bufs, 16);
    size_t offered = 0;
    for (size_t i = 0; i < n; ++i) offered += bufs[i].len;
    int written = uv_try_write(stream, bufs, static_cast<unsigned>(n));
    if (written == UV_EAGAIN || written == 0) break;
    if (written < 0) {
      close(conn);
      return;
    }
    conn.out.consume(static_cast<size_t>(written));
    conn.waiting_since_ms = uv_now(loop_);
    resume_notifications(conn);
    if (static_cast<size_t>(written) < offered) break;  // the socket is full
  }
  if (!conn.out.empty()) {
    // At most four buffers: libuv copies a longer list into a malloc'd one.
    const size_t n = conn.out.peek(bufs, 4);
    size_t bytes = 0;
    for (size_t i = 0; i < n; ++i) bytes += bufs[i].len;
    int rc = uv_write(&conn.write_req, stream, bufs, static_cast<unsigned>(n), on_write);
    if (rc != 0) {
      close(conn);
      return;
    }
    conn.in_flight = bytes;
  }
  if (conn.idle_output() &&
      (conn.close_when_flushed || (conn.eof && !conn.has_work() && !conn.oversize))) {
    close(conn);
    return;
  }
  update_reading(conn);
  if (conn.has_work() && may_work(conn)) stage(conn);
}

void IpcServer::on_write(uv_write_t* req, int status) {
  auto& conn = *static_cast<Connection*>(req->data);
  IpcServer* self = conn.server;
  if (status == 0) {
    conn.out.consume(conn.in_flight);
    conn.waiting_since_ms = uv_now(self->loop_);
  }
  conn.in_flight = 0;
  if (conn.closing) return;
  if (status < 0) {
    self->close(conn);
    return;
  }
  self->flush(conn);
  self->note_output();
}

void IpcServer::make_room(Connection& conn, size_t growth) {
  if (growth == 0) return;
  cut_longest_waiting([this] { return output_bytes_ - closing_bytes_; },
                      limits_.max_total_output_bytes, growth, nullptr,
                      "the clients' unsent output reached ipc.max_total_output_bytes");
  // A uid's connections share a budget too (not root's, not syncd's own): those of its
  // connections most behind go, not one that reads.
  if (conn.uid_held == nullptr || conn.closing) return;
  const size_t* held = conn.uid_held;
  const uid_t uid = conn.uid;
  cut_longest_waiting(
      [held] { return *held; }, limits_.max_output_bytes_per_uid, growth, &uid,
      "the unsent output of uid " + std::to_string(uid) + " reached ipc.max_output_bytes_per_uid");
}

void IpcServer::cut_longest_waiting(const std::function<size_t()>& held, size_t limit,
                                    size_t growth, const uid_t* only_uid, const std::string& what) {
  if (held() + growth <= limit) return;
  std::vector<Connection*> holders;
  for (Connection* c : connections_) {
    if (!c->closing && c->held() > 0 && (only_uid == nullptr || c->uid == *only_uid)) {
      holders.push_back(c);
    }
  }
  // The client whose output has not moved for longest is the one most behind; a client
  // that reads, even a large answer, keeps its output moving.
  std::sort(holders.begin(), holders.end(), [](const Connection* a, const Connection* b) {
    if (a->waiting_since_ms != b->waiting_since_ms) {
      return a->waiting_since_ms < b->waiting_since_ms;
    }
    return a->held() > b->held();
  });
  const uint64_t now = uv_now(loop_);
  uint64_t longest_ms = 0;
  for (Connection* victim : holders) {
    if (held() + growth <= limit) break;
    longest_ms = std::max(longest_ms, now - victim->waiting_since_ms);
    ++cut_unlogged_;
    ++metrics_.slow_reader_disconnects;
    close(*victim);
  }
  if (cut_unlogged_ > 0 && (cut_logged_ms_ == 0 || now >= cut_logged_ms_ + 1000)) {
    log_warning(what + " (" + std::to_string(limit) + " bytes): disconnected " +
                std::to_string(cut_unlogged_) +
                " client(s) whose output had waited longest (up to " + std::to_string(longest_ms) +
                " ms)");
    cut_unlogged_ = 0;
    cut_logged_ms_ = now;
  }
}

void IpcServer::note_output() {
  metrics_.output_bytes = output_bytes_ - closing_bytes_;
  metrics_.output_bytes_max = std::max<uint64_t>(metrics_.output_bytes_max, metrics_.output_bytes);
  output_peak_since_trim_ = std::max(output_peak_since_trim_, output_bytes_);
  if (output_peak_since_trim_ < output_bytes_ + kTrimBytes ||
      uv_is_active(reinterpret_cast<uv_handle_t*>(&trim_timer_)) || shutting_down_) {
    return;
  }
  // The chunks a slow reader held were freed in the middle of the heap, where glibc's
  // trim threshold (daemon.cc) never gives them back; malloc_trim does, a little later
  // so that one call covers a burst of disconnects.
  trim_memory_soon();
}

void IpcServer::trim_memory_soon() {
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&trim_timer_)) || shutting_down_) return;
  uv_timer_start(
      &trim_timer_,
      [](uv_timer_t* timer) {
        auto* self = static_cast<IpcServer*>(timer->data);
        malloc_trim(0);
        ++self->metrics_.memory_trims;
        self->output_peak_since_trim_ = self->output_bytes_;
      },
      kTrimDelayMs, 0);
}

void IpcServer::close(Connection& conn) {
  if (conn.closing) return;
  conn.closing = true;
  // Its output is freed now, but for what a write in flight still points at (until
  // libuv cancels it, in this loop iteration).
  conn.later.clear();
  conn.out.drop_after(conn.in_flight);
  closing_bytes_ += conn.held();
  conn.out.count_in(nullptr);  // its uid's budget has room again now
  conn.later.count_in(nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&conn.pipe), on_close);
}

void IpcServer::on_close(uv_handle_t* handle) {
  auto* conn = static_cast<Connection*>(handle->data);
  IpcServer* self = conn->server;
  self->connections_.erase(conn);
  --self->metrics_.connections_open;
  // A closed connection may still be listed for this turn; drop it there too.
  std::erase(self->staged_, conn);
  std::erase(self->parked_, conn);
  std::erase(self->flush_, conn);
  self->closing_bytes_ -= conn->held();
  delete conn;
  self->note_output();
  self->maybe_finish_shutdown();
}

void IpcServer::shutdown(uint64_t drain_ms, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  auto close_handle = [](uv_handle_t* h) {
    uv_close(h, [](uv_handle_t* handle) {
      auto* self = static_cast<IpcServer*>(handle->data);
      --self->handles_open_;
      self->maybe_finish_shutdown();
    });
  };
  if (listening_) {
    listening_ = false;
    close_handle(reinterpret_cast<uv_handle_t*>(&listener_));
    // An activated socket stays with systemd, which queues the connections that come
    // while syncd restarts.
    if (owns_socket_file_) ::unlink(path_.c_str());
  }
  // Frames already read are answered by last turns, whatever the clients' budgets;
  // nothing new is read.
  draining_ = true;
  for (Connection* conn : connections_) {
    if (conn->has_work()) stage(*conn);
  }
  while (!staged_.empty()) run_turn();
  uv_check_stop(&turn_check_);
  close_handle(reinterpret_cast<uv_handle_t*>(&turn_check_));
  close_handle(reinterpret_cast<uv_handle_t*>(&turn_idle_));
  uv_timer_stop(&trim_timer_);
  close_handle(reinterpret_cast<uv_handle_t*>(&trim_timer_));
  for (Connection* conn : connections_) {
    if (conn->closing) continue;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&conn->pipe));
    conn->reading = false;
    conn->close_when_flushed = true;
    if (conn->idle_output()) close(*conn);
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
