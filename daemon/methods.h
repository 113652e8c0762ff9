#pragma once
// The JSON-RPC methods of DESIGN.md over the store and the queue. A call reads or writes
// inside the transaction the IPC server opened for this loop turn; it never commits.
// Local writes are reported to the caller as ChangeEvents so notifications go out only
// after the commit.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/collection_access.h"
#include "daemon/doctor.h"
#include "daemon/metrics.h"
#include "queue/local_writes.h"
#include "queue/mutation_queue.h"
#include "store/document_store.h"
#include "store/resolution_log.h"
#include "sync/sync_engine.h"
#include "util/clock.h"
#include "util/json.h"

namespace syncd {

struct ChangeEvent {
  std::string collection;
  std::string id;
  std::optional<std::string> data;  // the new local view, nullopt when deleted
  const char* origin = "local";
};

// One connection's subscriptions: id -> collection filter (nullopt: every collection).
struct Subscriptions {
  size_t max = SIZE_MAX;  // ipc.max_subscriptions
  int64_t next_id = 1;
  std::map<int64_t, std::optional<std::string>> filters;
};

// What a call may touch besides the store: the caller's subscriptions and the turn's changes.
struct CallContext {
  Subscriptions& subscriptions;
  std::vector<ChangeEvent>& changes;
  size_t writes = 0;
  // The peer's uid (SO_PEERCRED); -1 when unknown. auth.* takes only root or syncd's own.
  int64_t peer_uid = -1;
  // The collections the peer may read and write (ipc.grants); null: every one.
  const CollectionAccess* access = nullptr;
};

struct DaemonInfo {
  std::string client_id;
  int64_t started_monotonic_ms = 0;
  // What the config weakens (config_warnings): logged at start, listed by `status`.
  std::vector<std::string> warnings;
};

class Methods {
 public:
  // `sync` may be null (tests, or before the engine starts): syncd reports itself offline.
  Methods(DocumentStore& documents, MutationQueue& queue, LocalWriter& writes, const Clock& clock,
          Uuid7Generator& ids, const DaemonInfo& info, Metrics& metrics,
          ResolutionLog* resolutions = nullptr, SyncEngine* sync = nullptr)
      : documents_(documents),
        queue_(queue),
        writes_(writes),
        clock_(clock),
        ids_(ids),
        info_(info),
        metrics_(metrics),
        resolutions_(resolutions),
        sync_(sync) {}
  void set_sync(SyncEngine* sync) { sync_ = sync; }
  // Which way collections sync: a retry or a manual resolution that would send a write
  // of a pull-only or local collection is refused.
  void set_directions(Directions directions) { directions_ = std::move(directions); }
  // What `doctor` checks the running daemon against.
  void set_doctor_setup(DoctorSetup setup) { doctor_setup_ = std::move(setup); }
  // Why auth.set_token and auth.login are refused (credentials_transport_refusal).
  void set_credentials_refusal(std::optional<std::string> why) {
    credentials_refusal_ = std::move(why);
  }

  // Runs `method` with `params` (an object, or null when absent) and fills `result`.
  // Throws RpcError, WriteRejected or SqliteError.
  void call(std::string_view method, const JsonValue& params, CallContext& ctx, JsonValue& result,
            JsonAllocator& alloc);

  // The counters and the status in Prometheus's text format (metrics {format:
  // prometheus}, and GET /metrics on metrics.listen).
  std::string prometheus_text() const;

 private:
  void write(MutationOp op, const JsonValue& params, CallContext& ctx, JsonValue& result,
             JsonAllocator& alloc);
  // Throws read_only (pull) or local_only (local) unless `collection` pushes.
  void refuse_unless_pushed(const std::string& collection, const char* what) const;
  void get(const JsonValue& params, JsonValue& result, JsonAllocator& alloc);
  void list(const JsonValue& params, JsonValue& result, JsonAllocator& alloc);
  void status(JsonValue& result, JsonAllocator& alloc);
  // metrics {format?: json|prometheus}: the counters, and with prometheus `status` too,
  // as {"text": exposition}.
  void metrics(const JsonValue& params, JsonValue& result, JsonAllocator& alloc);
  std::vector<Metrics::Entry> journal_entries() const;
  // doctor {since_ms?}: whether a request sent to the remote at or after since_ms (wall
  // clock) has ended ("fresh", which syncctl doctor waits for), and once it has (or with
  // no since_ms) the findings of daemon/doctor.h; a poll that is not fresh gets no checks.
  void doctor(const JsonValue& params, JsonValue& result, JsonAllocator& alloc);
  // auth.set_token {token, kind?: access|refresh}, auth.login {client_secret, client_id?}.
  void install_credentials(std::string_view method, const JsonValue& params, CallContext& ctx,
                           JsonValue& result, JsonAllocator& alloc);
  void subscribe(const JsonValue& params, CallContext& ctx, JsonValue& result,
                 JsonAllocator& alloc);
  void unsubscribe(const JsonValue& params, CallContext& ctx, JsonValue& result,
                   JsonAllocator& alloc);
  void queue_list(const JsonValue& params, std::optional<MutationState> only,
                  const CollectionAccess* access, JsonValue& result, JsonAllocator& alloc);
  void queue_retry(const JsonValue& params, CallContext& ctx, JsonValue& result,
                   JsonAllocator& alloc);
  void conflicts_list(const JsonValue& params, const CollectionAccess* access, JsonValue& result,
                      JsonAllocator& alloc);
  // Throws forbidden unless the caller may read (or write) `collection` (ipc.grants).
  void check_access(const CallContext& ctx, const std::string& collection, bool write) const;
  void conflicts_resolve(const JsonValue& params, CallContext& ctx, JsonValue& result,
                         JsonAllocator& alloc);

  DocumentStore& documents_;
  MutationQueue& queue_;
  LocalWriter& writes_;
  const Clock& clock_;
  Uuid7Generator& ids_;  // new ids for retried dead letters
  Directions directions_;
  const DaemonInfo& info_;
  Metrics& metrics_;  // reported by `metrics`; subscriptions_refused counted here
  ResolutionLog* resolutions_;
  SyncEngine* sync_;
  DoctorSetup doctor_setup_;
  std::optional<std::string> credentials_refusal_;
};

// Serialises a stored document in the shape of `get`.
void document_to_json(const StoredDocument& doc, JsonValue& out, JsonAllocator& alloc);

}  // namespace syncd
