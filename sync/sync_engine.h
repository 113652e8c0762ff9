#pragma once
// Schedules everything that talks to the remote, on the daemon's loop: replays the
// mutation queue in batches (up to max_inflight pushes at once), applies the results
// (applied: the mutation leaves the queue and its document takes the server version;
// conflict: ConflictApplier; rejected: dead letter), pulls remote changes into the store
// page by page, and waits between failures (one backoff, a circuit breaker, the
// remote's Retry-After). It knows no path, header or body of any protocol: the
// RemoteProtocol reduces every answer to ok, retryable, rejected or unauthorised.
//
// Exactly once: a mutation keeps its id across retries and restarts, so when an answer
// is lost the resend is answered by the remote's dedupe with the first result.
// Per-document order: the queue leases one mutation per document at a time.
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "queue/directions.h"
#include "queue/mutation_queue.h"
#include "queue/table_access.h"
#include "store/document_store.h"
#include "store/meta_store.h"
#include "store/sqlite.h"
#include "sync/backoff.h"
#include "sync/circuit_breaker.h"
#include "sync/conflict_applier.h"
#include "sync/connectivity.h"
#include "sync/dead_letters.h"
#include "sync/event_stream.h"
#include "sync/remote.h"
#include "sync/sync_counters.h"
#include "util/clock.h"
#include "util/repeat_limiter.h"
#include "util/uuid7.h"

namespace syncd {

struct SyncSettings {
  int64_t batch_size = 500;
  int64_t batch_bytes = 4 << 20;
  int64_t max_inflight = 8;
  int64_t pull_interval_ms = 60000;
  BackoffPolicy backoff;
  int64_t breaker_threshold = 5;
  int64_t breaker_cooldown_ms = 30000;
  ConflictPolicies conflicts;
  Directions directions;
};

struct SyncStatus {
  Connectivity connectivity = Connectivity::offline;
  std::optional<int64_t> connectivity_since_ms;
  std::optional<int64_t> reachable_since_ms;  // ConnectivityTracker::reachable_since_ms
  BreakerState breaker = BreakerState::closed;
  std::string auth = "none";  // none, ok, failed, auth_failed
  std::optional<int64_t> last_push_ms;
  std::optional<int64_t> last_pull_ms;
  std::optional<int64_t> next_retry_ms;
  std::string last_error;                   // kept after recovery: compare last_error_at
  std::optional<int64_t> last_error_at_ms;  // with last_push and last_pull
  // When a request to the remote last ended, answered or not, and when the latest
  // request that has ended was sent (wall clock).
  std::optional<int64_t> last_contact_ms;
  std::optional<int64_t> last_contact_sent_ms;
  // The remote's clock minus ours, from the Date header of its latest answer that had one
  // (Date has whole seconds, and the answer's latency counts too).
  std::optional<int64_t> clock_skew_ms;
};

class SyncEngine {
 public:
  using ChangeSink = std::function<void(std::vector<RemoteChange>)>;

  // Its work on the tables (leases, results, pulled pages) runs when `tables` says it
  // is cheap.
  SyncEngine(uv_loop_t* loop, Database& db, DocumentStore& documents, MutationQueue& queue,
             TableAccess& tables, Remote& remote, const Clock& clock, Random& random,
             Uuid7Generator& ids, SyncSettings settings, ChangeSink on_remote_changes);
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  void start();
  // Stops timers and drops requests in flight (their mutations stay inflight in the
  // database and return to pending at the next start). `done` runs once handles closed.
  void stop(std::function<void()> done);
  // Local writes were committed: replay within a few milliseconds.
  void kick();
  // Called once each time the replay has drained the queue (its buffers are free).
  void set_on_replay_drained(std::function<void()> f) { on_replay_drained_ = std::move(f); }
  // Replay and pull now, skipping backoff waits (syncctl sync).
  void sync_now();
  // The remote's credentials, for syncctl auth to install new ones; then
  // credentials_changed() sends at once (a halt for refused credentials ends).
  Credentials& credentials() { return credentials_; }
  void credentials_changed();
  // The network changed (netlink): if offline, probe now instead of after the backoff.
  void network_changed();
  SyncStatus status() const;
  const SyncCounters& counters() const { return counters_; }
  // SIGHUP: which collections pull from now on (mutations already queued still drain).
  void set_directions(Directions directions) { settings_.directions = std::move(directions); }

  // conflicts.resolve (ConflictApplier::resolve_manually), then a replay.
  std::optional<std::string> resolve_manually(const std::string& mutation_id,
                                              const std::string& take,
                                              std::vector<RemoteChange>& changed);

 private:
  void schedule_tick(int64_t delay_ms);
  // Runs tick_now() when the tables are cheap to use; ticks asked for meanwhile are one.
  void tick();
  void tick_now();
  void start_continue_idle();
  // Runs `work` when the tables are cheap to use, unless the engine is gone by then.
  void with_tables(std::function<void()> work);
  // Past the backoff, and no pull in flight when versions are not ordered (a page read
  // before a push's acknowledgement would bring back the old revision).
  bool may_push(int64_t now) const;
  void replay();
  void send_push(std::vector<Mutation> batch);
  // `sent_ms`: when the request left (wall clock), for note_contact.
  void on_push_answer(std::vector<Mutation> batch, PushAnswer answer, int64_t sent_ms);
  void push_answered(std::vector<Mutation> batch, PushAnswer answer);
  void apply_results(const std::vector<Mutation>& batch, const std::vector<PushResult>& results);
  // Stores the next kResultsPerTurn results of the oldest answer in storing_.
  void store_results_slice();
  // The remote refused a batch's content: halve it, and a batch of one is a dead letter.
  void isolate_refused(const std::vector<Mutation>& batch, const std::string& error);
  void push_failed(const std::vector<Mutation>& batch, const Answer& answer);
  // Every pushed mutation of `batch` goes back to pending, due at `retry_at_ms`.
  void return_to_pending(const std::vector<Mutation>& batch, int64_t retry_at_ms,
                         const std::string& why);
  void probe();
  // The change-hint stream said a change is there (or ended): pull soon, coalesced.
  void hint();
  void pull();
  // The stored cursor, or the beginning when the collections pulled now include one the
  // cursor was not issued for (Directions::widens).
  std::string pull_cursor();
  void on_pull_answer(PullAnswer answer, int64_t sent_ms);
  void pull_answered(PullAnswer answer);
  // Applies a pulled page and stores its cursor; an error when storing failed.
  std::optional<std::string> store_pulled(const PullPage& page);
  // A pull round (its pages until has_more is false) ended at `cursor`.
  void end_pull_round(const std::string& cursor);
  // A 401 or 403: true when the request is to be sent again (a newer token, or after the
  // refresh this starts or joins); false when it counts as failed.
  bool handle_unauthorised(const Answer& answer);
  // The refresh the engine waited for ended (nullopt: a new token is in use).
  void refreshed(std::optional<std::string> error);
  // The one backoff: after a failed request nothing is sent before the returned delay
  // (the backoff, or the remote's Retry-After up to the cap, which `error` then notes).
  int64_t back_off(std::string& error, std::optional<int64_t> retry_after_ms);
  void request_succeeded();
  // The remote answered as it should: online, after logging the failures held back.
  void reached();
  void note_error(const std::string& error);
  // A request to the remote sent at `sent_ms` (wall clock) ended with `answer`: the last
  // contact, and the remote's clock.
  void note_contact(const Answer& answer, int64_t sent_ms);
  // Leased mutations whose outcome could not be stored (the database failed) would stay
  // inflight, their documents blocked, until a restart: they are kept here and given back
  // to the queue (pending, sent again with the same ids) as soon as that can be written.
  void strand(const std::vector<Mutation>& batch);
  void return_stranded();

  uv_loop_t* loop_;
  Database& db_;
  DocumentStore& documents_;
  MutationQueue& queue_;
  TableAccess& tables_;
  MetaStore meta_;
  Remote& remote_;
  RemoteProtocol& protocol_;
  Credentials& credentials_;
  const Clock& clock_;
  SyncSettings settings_;
  SyncCounters counters_;
  ChangeSink on_remote_changes_;
  Backoff backoff_;
  CircuitBreaker breaker_;
  ConflictApplier conflicts_;
  ConnectivityTracker connectivity_{clock_};
  RepeatLimiter error_log_{60000};  // last_error changes, at warning, repeats counted

  uv_timer_t tick_timer_{};    // replay retries, probes, periodic pulls
  uv_idle_t continue_idle_{};  // the next turn's share of answers and results
  bool stopped_ = false;
  bool tick_waiting_ = false;  // for the tables (with_tables)
  bool replaying_ = false;     // pushes sent since the queue was last found drained
  std::function<void()> on_replay_drained_;
  // Answered pushes whose results are being stored, in slices within kEngineMsPerTurn a
  // turn: 500 results took the loop about 30 ms at once (bench/hostile_clients). No pull
  // starts meanwhile.
  static constexpr size_t kResultsPerTurn = 128;
  static constexpr int64_t kEngineMsPerTurn = 3;
  // Answers of the remote, taken in by tick_now() in order (push_answered, pull_answered).
  std::deque<std::function<void()>> answers_;
  bool in_tick_ = false;
  int leases_left_ = 1;  // in this tick_now()
  struct StoringResults {
    std::vector<Mutation> batch;
    std::vector<PushResult> results;
    size_t done = 0;
  };
  std::deque<StoringResults> storing_;
  // Work waiting for the tables holds a weak reference: gone with the engine.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  int64_t failures_ = 0;       // consecutive failed requests, for the backoff
  int64_t wait_until_ms_ = 0;  // monotonic: no request before this (backoff, Retry-After)
  int64_t pushes_in_flight_ = 0;
  bool probe_in_flight_ = false;
  bool awaiting_refresh_ = false;
  bool pull_in_flight_ = false;
  bool pull_wanted_ = true;
  int64_t next_pull_ms_ = 0;           // monotonic
  int64_t batch_limit_ = 0;            // lowered while isolating a mutation the server refuses
  std::vector<std::string> stranded_;  // ids of inflight mutations with no stored outcome
  EventStream events_;                 // the change-hint stream
  uint64_t hints_generation_ = 0;      // of the credentials the open stream carried
  std::optional<std::string> scope_stored_;  // the pull scope known to be in the database
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
  std::optional<int64_t> last_contact_ms_;
  std::optional<int64_t> last_contact_sent_ms_;
  std::optional<int64_t> clock_skew_ms_;
};

}  // namespace syncd
