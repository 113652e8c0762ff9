#pragma once
// The applier thread: it owns the journaled writes handed over by the loop until they
// are in the tables, and applies them on its own SQLite connection, many per
// transaction (gathered for up to `gather`), at synchronous=NORMAL, checkpointing the WAL
// itself. It runs at idle CPU priority unless raised (set_urgent, or while the loop
// waits for it). The loop may take the tables (take_for_loop) to use them itself, and
// with them the oldest handed writes to apply: the thread then starts no transaction
// until release_tables(), so writes reach the tables in lsn order and the loop never
// waits for SQLite's write lock. It reports progress (the last applied lsn, an error) on
// the loop through a uv_async.
//
// Threads: every public method is for the loop thread.
#include <uv.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "queue/mutation_queue.h"
#include "store/document_store.h"
#include "store/meta_store.h"

namespace syncd {

// A durable write on its way to the tables: its journal record, decoded when applied
// (one string instead of the decoded write's several, for thousands of them).
struct HandedWrite {
  uint64_t lsn = 0;
  std::string record;
};

// SQLite's default automatic checkpoint: a WAL this long (pages) is checkpointed.
inline constexpr int kCheckpointPages = 1000;
// What a WAL file is cut back to once it starts over: a burst (a backlog applied, a long
// pull) grows it past this, and a small disk should not keep that room taken.
inline constexpr const char* kWalSizeLimitPragma = "PRAGMA journal_size_limit=8388608";

// The meta key of the last lsn in the tables.
inline constexpr const char* kAppliedLsnKey = "journal_applied_lsn";
// The meta key of an lsn known to have been synced to the journal (acknowledged) when
// the tables last took writes: at a start, the journal must hold every record up to it.
inline constexpr const char* kSyncedLsnKey = "journal_synced_lsn";

// Stores `batch`, records its last lsn as applied and `synced_lsn` (the last lsn
// synced to the journal so far), in the caller's transaction. Throws on a record that
// does not decode.
void apply_handed_writes(DocumentStore& documents, MutationQueue& queue, MetaStore& meta,
                         const std::vector<HandedWrite>& batch, uint64_t synced_lsn);

class JournalApplier {
 public:
  // `applied_lsn`: what the tables durably hold already.
  JournalApplier(size_t max_batch, std::chrono::milliseconds gather, uint64_t applied_lsn);
  ~JournalApplier();  // joins a running thread (its loop handle is stop()'s to close)
  JournalApplier(const JournalApplier&) = delete;
  JournalApplier& operator=(const JournalApplier&) = delete;

  // Starts the thread on its own connection; `on_progress` runs on the loop after each
  // of its transactions. Before this, handed writes wait for take_for_loop().
  void start(uv_loop_t* loop, const std::string& db_path, std::function<void()> on_progress);
  // Joins the thread (whatever is still handed stays unapplied) and closes its handle.
  void stop();

  // A turn's durable writes, in lsn order (moved from).
  void hand(std::vector<HandedWrite>& writes);

  struct Taken {
    std::vector<HandedWrite> writes;  // the oldest handed writes, for the loop to apply
    uint64_t applied_lsn = 0;         // what the thread had applied before them
    uint64_t handed_lsn = 0;          // the last lsn ever handed (synced to the journal)
  };
  // Waits for the thread's transaction, then takes the tables and up to `at_most`
  // writes: the thread starts no transaction until release_tables().
  Taken take_for_loop(size_t at_most);
  // The taken writes are committed on the loop's connection (not synced: durable with
  // the next checkpoint, or note_durable()).
  void loop_applied(uint64_t lsn);
  // They were not: the thread takes them back, first in line.
  void loop_failed(std::vector<HandedWrite>& writes);
  void release_tables();
  // The loop wants the tables: the thread gathers no more, and after a commit that
  // leaves at most `handed_at_most` writes handed it waits for take_for_loop().
  void want_tables(size_t handed_at_most);
  // The WAL is past kCheckpointPages: the thread checkpoints it (soon, between its
  // transactions) so that the loop's connection never does. `overdue` (the WAL is twice
  // that long: a busy machine leaves a SCHED_IDLE thread no time, and the WAL grew until
  // a small disk was full) raises the thread to normal priority until it has.
  void checkpoint_soon(bool overdue = false);
  struct Load {
    bool busy = false;  // in a transaction: the loop would wait for it
    size_t handed = 0;  // writes handed and not applied
  };
  Load load();

  // Applied and synced to disk; note_durable() after a commit of the loop's connection.
  uint64_t durable_lsn();
  void note_durable(uint64_t lsn);

  struct Progress {
    uint64_t applied_lsn = 0;
    std::string error;  // the thread's last failure since the previous call, if any
  };
  Progress progress();

  // Normal CPU priority until set_urgent(false), for a backlog to be worked off.
  void set_urgent(bool urgent);
  bool urgent() const { return urgent_; }

 private:
  struct Store;
  void run();
  void set_priority(bool normal);
  // Normal priority while urgent, while the loop waits, or while a checkpoint is overdue.
  void settle_priority(bool loop_waits);
  std::vector<HandedWrite> take_oldest(size_t at_most);  // under mutex_
  void give_back(std::vector<HandedWrite>& writes);      // under mutex_

  const size_t max_batch_;
  const std::chrono::milliseconds gather_;
  std::unique_ptr<Store> store_;
  std::thread thread_;
  uv_async_t progress_{};
  std::function<void()> on_progress_;
  bool started_ = false;
  bool idle_class_ = false;  // SCHED_IDLE, raised while the loop waits for it
  bool urgent_ = false;
  bool checkpoint_overdue_ = false;  // raised for a checkpoint; lowered by progress()

  // Shared with the thread.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<HandedWrite> handed_;
  bool running_ = false;        // the thread has set its priority
  bool busy_ = false;           // the thread is in a transaction
  bool loop_applying_ = false;  // the loop has the tables (take_for_loop)
  bool stopping_ = false;
  bool fresh_ = false;  // handed over since the thread last failed
  bool checkpoint_wanted_ = false;
  bool loop_wants_ = false;  // want_tables(): no gathering; a pause after a commit
  size_t pause_at_most_ = 0;
  uint64_t applied_lsn_ = 0;
  uint64_t durable_lsn_ = 0;
  uint64_t handed_lsn_ = 0;  // the last lsn handed over
  std::string error_;
};

}  // namespace syncd
