#pragma once
// Everything that talks to the remote, on the daemon's loop: replays the mutation queue
// to POST /v1/push in batches (up to sync.max_inflight requests at once), applies the
// results (applied: the mutation leaves the queue and its document takes the server
// version; conflict: the collection's strategy; rejected: dead letter), retries with
// backoff and a circuit breaker, tracks connectivity (online, degraded, offline, with a
// health probe while offline), and pulls remote changes into the store.
//
// Exactly once: a mutation keeps its id across retries and restarts, so when an answer
// is lost the resend is answered by the server's dedupe with the first result.
// Per-document order: the queue leases one mutation per document at a time.
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "queue/mutation_queue.h"
#include "store/document_store.h"
#include "store/meta_store.h"
#include "store/resolution_log.h"
#include "store/sqlite.h"
#include "sync/backoff.h"
#include "sync/circuit_breaker.h"
#include "sync/conflict_resolver.h"
#include "sync/dead_letters.h"
#include "sync/event_stream.h"
#include "sync/http_transport.h"
#include "sync/push_protocol.h"
#include "sync/token_store.h"
#include "util/clock.h"
#include "util/uuid7.h"

namespace syncd {

struct SyncSettings {
  std::string remote;  // base URL, no trailing slash
  std::string token;   // bearer token; empty: none
  // OAuth 2.0 refresh_token grant (RFC 6749 section 6) on a 401; empty url: none.
  std::string token_url;
  std::string refresh_token;
  // Where the tokens a refresh brings are kept (TokenStore, mode 0600), never in the
  // database; empty: in memory only, until the process ends.
  std::string token_file;
  std::string oauth_client_id;
  std::string oauth_client_secret;
  int64_t batch_size = 500;
  int64_t batch_bytes = 4 << 20;
  int64_t max_inflight = 8;
  int64_t pull_interval_ms = 60000;
  int64_t pull_limit = 500;
  unsigned max_document_depth = 64;  // a pulled document nested deeper is skipped
  BackoffPolicy backoff;
  int64_t breaker_threshold = 5;
  int64_t breaker_cooldown_ms = 30000;
  ConflictPolicies conflicts;
};

enum class Connectivity { online, degraded, offline };
const char* to_string(Connectivity c);

struct SyncStatus {
  Connectivity connectivity = Connectivity::offline;
  BreakerState breaker = BreakerState::closed;
  std::string auth = "none";  // none, ok, failed
  std::optional<int64_t> last_push_ms;
  std::optional<int64_t> last_pull_ms;
  std::optional<int64_t> next_retry_ms;
  std::string last_error;                   // kept after recovery: compare last_error_at
  std::optional<int64_t> last_error_at_ms;  // with last_push and last_pull
};

class SyncEngine {
 public:
  using ChangeSink = std::function<void(std::vector<RemoteChange>)>;

  SyncEngine(uv_loop_t* loop, Database& db, DocumentStore& documents, MutationQueue& queue,
             HttpTransport& http, const Clock& clock, Random& random, Uuid7Generator& ids,
             SyncSettings settings, std::string client_id, ChangeSink on_remote_changes);
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  void start();
  // Stops timers and drops requests in flight (their mutations stay inflight in the
  // database and return to pending at the next start). `done` runs once handles closed.
  void stop(std::function<void()> done);
  // Local writes were committed: replay within a few milliseconds.
  void kick();
  // Replay and pull now, skipping backoff waits (syncctl sync).
  void sync_now();
  // The network changed (netlink): if offline, probe now instead of after the backoff.
  void network_changed();
  SyncStatus status() const;

  // conflicts.resolve: `take` is "local", "remote", or a JSON object text. Returns an
  // error message when there is no such conflict, or nullopt when done, with the
  // document's new local view in `changed`; throws SqliteError when the database fails
  // (answered storage_error or storage_full). Joins the caller's transaction when there
  // is one.
  std::optional<std::string> resolve_manually(const std::string& mutation_id,
                                              const std::string& take,
                                              std::vector<RemoteChange>& changed);

 private:
  void schedule_tick(int64_t delay_ms);
  void tick();
  void replay();
  void send_push(std::vector<Mutation> batch);
  void on_push_answer(std::vector<Mutation> batch, HttpResponse response, uint64_t token_used);
  // `results[i]` is the server's answer for `batch[i]` (match_results).
  void apply_results(const std::vector<Mutation>& batch,
                     const std::vector<const PushResult*>& results);
  void apply_conflict(const Mutation& m, const PushResult& r, std::vector<RemoteChange>& changes);
  void push_failed(const std::vector<Mutation>& batch, const std::string& error,
                   std::optional<int64_t> retry_after_ms, Connectivity now_state);
  void probe();
  // The event stream said `changed` (or ended): pull soon, coalesced with other hints.
  void hint();
  void pull();
  void on_pull_answer(HttpResponse response, uint64_t token_used);
  // Applies a pulled page and stores its cursor; an error when storing failed.
  std::optional<std::string> store_pulled(const PullPage& page);
  // A pull round (its pages until has_more is false) ended at `cursor`.
  void end_pull_round(const std::string& cursor);
  // The server's Retry-After, if any; `error` notes when the backoff caps it.
  std::optional<int64_t> retry_after(const HttpResponse& r, std::string& error) const;
  void request_succeeded();
  void note_error(const std::string& error);
  // Leased mutations whose outcome could not be stored (the database failed) would stay
  // inflight, their documents blocked, until a restart: they are kept here and given back
  // to the queue (pending, sent again with the same ids) as soon as that can be written.
  void strand(const std::vector<Mutation>& batch);
  void return_stranded();
  // A 401: refresh the token once (when configured). True when a refresh was started,
  // false when the request should count as a failure.
  bool refresh_token_after_401();
  HttpRequest request(const std::string& method, const std::string& path, std::string body);
  // At start: the tokens of the token file (when issued under the configured refresh
  // token), after moving a refresh token an older syncd kept in the database there.
  void load_tokens();
  // Keeps the tokens in use in the token file.
  void store_tokens();

  uv_loop_t* loop_;
  Database& db_;
  DocumentStore& documents_;
  MutationQueue& queue_;
  MetaStore meta_;
  ResolutionLog resolutions_;
  HttpTransport& http_;
  const Clock& clock_;
  Uuid7Generator& ids_;
  SyncSettings settings_;
  std::string client_id_;
  ChangeSink on_remote_changes_;
  Backoff backoff_;
  CircuitBreaker breaker_;

  uv_timer_t tick_timer_{};  // replay retries, probes, periodic pulls
  bool stopped_ = false;
  bool tick_scheduled_ = false;
  Connectivity connectivity_ = Connectivity::offline;
  std::string auth_ = "none";
  std::string token_;  // the access token in use
  std::optional<TokenStore> token_store_;
  std::string configured_fingerprint_;  // of auth.refresh_token as configured
  uint64_t token_generation_ = 0;       // bumped by each refresh: a 401 for an older one is stale
  bool refresh_in_flight_ = false;
  bool refreshed_since_success_ = false;  // one refresh per run of 401s
  int64_t failures_ = 0;                  // consecutive failed requests, for the backoff
  int64_t wait_until_ms_ = 0;             // monotonic: no push before this (backoff, Retry-After)
  int64_t pushes_in_flight_ = 0;
  bool probe_in_flight_ = false;
  bool pull_in_flight_ = false;
  bool pull_wanted_ = true;
  int64_t next_pull_ms_ = 0;           // monotonic
  int64_t batch_limit_ = 0;            // lowered while isolating a mutation the server refuses
  std::vector<std::string> stranded_;  // ids of inflight mutations with no stored outcome
  EventStream events_;                 // the /v1/events stream: "changed" is a hint to pull
  // Hints wait here, one at most. One that finds nothing new in a row with others
  // (hint_misses_) is followed only after a growing wait (monotonic hint_not_before_ms_).
  bool hint_waiting_ = false;
  int64_t hint_not_before_ms_ = 0;
  int64_t hint_misses_ = 0;
  // The pull round in progress: whether only a hint asked for it, the cursor it began at
  // (a round that ends there found nothing new), and the cursor of the page asked for.
  bool round_open_ = false;
  bool round_by_hint_ = false;
  std::string round_cursor_;
  std::string cursor_sent_;
  std::optional<int64_t> last_push_ms_;
  std::optional<int64_t> last_pull_ms_;
  std::string last_error_;
  std::optional<int64_t> last_error_at_ms_;
};

}  // namespace syncd
