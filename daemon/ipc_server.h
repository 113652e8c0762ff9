#pragma once
// The Unix-socket JSON-RPC server on the libuv loop. It owns the listening socket and
// the client connections, and runs group commit: the frames that arrive during one loop
// turn are handled together (in the turn's check phase), their writes made durable by
// one journal sync, and no answer or notification leaves before that sync. Answers keep
// request order per connection.
//
// A turn does a bounded amount of work (kTurnRequests requests, shared out in rounds
// between the connections that have some), so no client holds the loop for long; a
// large batch is worked a slice per turn and its answer streamed out as one line.
// Output budgets (docs/PROTOCOL.md, "Output budgets"): a client's unsent output is held
// in an OutputQueue; its requests wait while that passes half of ipc.max_output_bytes,
// and a notification that would pass all of it is dropped and later counted in a `gap`
// notification. When every client's unsent output together passes
// ipc.max_total_output_bytes, the clients whose output has waited longest are
// disconnected until it fits again.
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "daemon/collection_access.h"
#include "daemon/methods.h"
#include "daemon/metrics.h"
#include "daemon/notification_lines.h"
#include "daemon/rpc_handler.h"
#include "queue/journaled_writes.h"

namespace syncd {

struct IpcLimits {
  size_t max_frame_bytes = 1 << 20;
  size_t max_output_bytes = 4 << 20;
  size_t max_total_output_bytes = 64 << 20;
  size_t max_batch = 10000;
  size_t max_clients = 1024;
  size_t max_clients_per_uid = 64;  // root and syncd's own uid are held to max_clients only
  size_t max_subscriptions = 64;    // per connection
  size_t max_output_bytes_per_uid = 16 << 20;  // all of one uid's connections (not root's)
  std::vector<int64_t> allowed_uids;           // both empty: anyone who can open the socket
  std::vector<int64_t> allowed_gids;
  std::vector<IpcGrant> grants;  // empty: every client may use every collection
};

class IpcServer {
 public:
  IpcServer(uv_loop_t* loop, JournaledWrites& writes, RpcHandler& handler, Metrics& metrics,
            IpcLimits limits);
  ~IpcServer();
  IpcServer(const IpcServer&) = delete;
  IpcServer& operator=(const IpcServer&) = delete;

  // Binds `path` (mode 0660), replacing a stale socket file but never a live one.
  // Throws std::runtime_error naming the path and the cause.
  void listen(const std::string& path);
  // Serves `fd`, a listening Unix socket passed by systemd (socket activation), whose
  // file `path` names (for the log). Its file is systemd's: never unlinked here.
  void adopt(int fd, const std::string& path);
  void set_limits(IpcLimits limits);
  // Called after every turn that committed writes (the sync engine replays them).
  void set_on_commit(std::function<void()> on_commit) { on_commit_ = std::move(on_commit); }
  // Gives freed heap back to the system shortly (malloc_trim), once for a burst of calls.
  void trim_memory_soon();

  // Publishes changes committed outside a client turn (later: remote changes).
  void publish(const std::vector<ChangeEvent>& changes);

  // Stops accepting, lets queued answers drain (up to `drain_ms`), closes every
  // connection and handle, then calls `done`.
  void shutdown(uint64_t drain_ms, std::function<void()> done);

  struct Connection;

 private:
  static void on_connection(uv_stream_t* server, int status);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_check(uv_check_t* check);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* handle);

  void accept_one();
  bool peer_allowed(Connection& conn, std::string& why);
  CollectionAccess access_of(const Connection& conn) const;
  size_t open_of_uid(uid_t uid) const;  // connections not closing
  void run_turn();
  // Whether `conn` may have its next request worked now (its output is under half its
  // budget, counting the answers it got this turn).
  bool may_work(const Connection& conn) const;
  void stage(Connection& conn);
  // While the applier is behind, a connection that wrote its share of a turn waits
  // (parked) for the applier's next report instead of for the next turn.
  void park(Connection& conn);
  void resume_parked();
  void update_reading(Connection& conn);
  void send(Connection& conn, std::string_view line);
  void send_slice(Connection& conn, const std::string& answers, bool last);
  void notify(Connection& conn, int64_t subscription, std::string_view id_text,
              const ChangeLine& line);
  void resume_notifications(Connection& conn);
  void flush(Connection& conn);
  void flush_all();
  void close(Connection& conn);
  // Disconnects the clients whose output has waited longest until `growth` more bytes
  // for `conn` fit in ipc.max_total_output_bytes, and those of conn's uid until they fit
  // in ipc.max_output_bytes_per_uid (or no client holds any); `conn` may be one cut.
  void make_room(Connection& conn, size_t growth);
  void cut_longest_waiting(const std::function<size_t()>& held, size_t limit, size_t growth,
                           const uid_t* only_uid, const std::string& what);
  void note_output();
  void maybe_finish_shutdown();
  void notify_subscribers(const std::vector<ChangeEvent>& changes);

  uv_loop_t* loop_;
  JournaledWrites& writes_;
  RpcHandler& handler_;
  Metrics& metrics_;
  IpcLimits limits_;
  std::string path_;
  uv_pipe_t listener_{};
  uv_check_t turn_check_{};
  uv_idle_t turn_idle_{};  // keeps the loop spinning while frames wait for a turn
  uv_timer_t drain_timer_{};
  uv_timer_t trim_timer_{};  // gives freed output memory back to the kernel, coalesced
  bool listening_ = false;
  bool owns_socket_file_ = true;  // false for a socket systemd passed
  bool shutting_down_ = false;
  bool draining_ = false;  // the last turns at shutdown: every frame read is answered
  int handles_open_ = 0;
  std::function<void()> shutdown_done_;
  std::function<void()> on_commit_;
  // Every connection's unsent output (OutputQueue keeps it exact); declared before the
  // connections, which count themselves out of it when they go.
  size_t output_bytes_ = 0;
  std::unordered_map<uid_t, size_t> uid_output_bytes_;  // the same per uid (not root, syncd)
  size_t closing_bytes_ = 0;  // of those, held by connections being closed (freed soon)
  size_t output_peak_since_trim_ = 0;
  uint64_t cut_unlogged_ = 0;  // budget disconnects not logged yet (one line a second)
  uint64_t cut_logged_ms_ = 0;
  std::unordered_set<Connection*> connections_;
  std::vector<Connection*> staged_;  // connections with work for the next turn, in order
  std::vector<Connection*> parked_;  // with work, waiting for the applier to catch up
  std::vector<Connection*> flush_;   // connections with output for this turn
  char read_buffer_[64 * 1024];
};

}  // namespace syncd
