#pragma once
// The hot path of local writes. A write is worked out on the newest local view of its
// document (the documents table, or an earlier write not applied yet), appended to the
// journal and kept in an in-memory overlay. commit_turn() makes a turn's writes durable
// with one journal sync; then they are acknowledged and handed to a background thread
// that applies them to the tables (documents and mutations) on its own connection, many
// per transaction. Everything else that uses the tables first settles (waits for that
// thread and applies what is left itself), so it sees every acknowledged write. Journal
// records not yet in the tables at start-up are applied before anything else runs; a
// journal file is reused only once its records are durable in the tables.
//
// Threads: all public methods are for the loop thread; the applier thread is
// queue/journal_applier.*.
#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "queue/journal_applier.h"
#include "queue/journal_recovery.h"
#include "queue/local_writes.h"
#include "queue/table_access.h"
#include "store/journal.h"
#include "store/journal_mark.h"
#include "store/key_filter.h"
#include "store/meta_store.h"

namespace syncd {

struct JournaledWritesOptions {
  std::string journal_path;            // the files are this with ".0" and ".1"
  size_t preallocate_bytes = 8 << 20;  // each file
  // Past this many unapplied writes (or bytes) the applier is behind and the IPC server
  // paces writers; past twice this the loop applies a slice itself, which bounds the
  // overlay's memory.
  size_t max_unapplied = 4096;
  size_t max_unapplied_bytes = 4 << 20;
  // Past this many the applier runs at normal priority until it is down to a quarter.
  // Well above what one gathering and a checkpoint bring (1,000 to 2,000 at 30,000
  // puts/s): raised, it competes with the loop and the clients for the CPU, which at
  // 1,024 doubled the p99 latency at 16 clients (bench/README.md).
  size_t urgent_unapplied = 3072;
  size_t max_batch = 1024;  // writes per applier transaction
  // Writes the loop applies itself in a turn when far behind: about what one turn takes
  // in with 100 subscribers (256 held the loop for 10 ms a turn, bench/hostile_clients).
  size_t max_slice = 64;
  // At most this many unapplied, work that can wait (TableAccess) runs at once: the loop
  // applies them in about a millisecond.
  size_t cheap_settle = 64;
  // How long the applier waits for more writes before a transaction.
  std::chrono::milliseconds gather{30};
  bool fsync = true;  // false with store.synchronous=normal
};

class JournaledWrites final : public LocalWriter, public TableAccess {
 public:
  // Applies what the journal holds beyond the tables (a crash), then opens it for
  // writing. `db` is the loop's connection; its settle hook is set here.
  JournaledWrites(Database& db, DocumentStore& documents, MutationQueue& queue, LocalWrites& writes,
                  JournaledWritesOptions options);
  ~JournaledWrites() override;
  JournaledWrites(const JournaledWrites&) = delete;
  JournaledWrites& operator=(const JournaledWrites&) = delete;

  // How many journal records the start-up applied (0 while a full disk delays them).
  int64_t recovered() const { return recovered_; }
  // Set when acknowledged writes were lost to a damaged, truncated or deleted journal
  // file: one line per lost range, naming the lsns, the file and what is wrong with it.
  const std::string& recovery_warning() const { return recovery_warning_; }
  // How many (at least) were lost.
  uint64_t lost_at_start() const { return lost_at_start_; }

  // Starts the applier thread on its own connection to `db_path`; before this,
  // settle() applies everything itself. `on_error` is told (on the loop) when the
  // applier fails; it retries on the next write or after a second.
  void start(uv_loop_t* loop, const std::string& db_path,
             std::function<void(const std::string&)> on_error);
  // Settles and stops the thread; then closes its loop handle.
  void stop();

  // Stages a write in the current turn. Throws WriteRejected or SqliteError.
  LocalWriteResult apply(const LocalWrite& write) override;
  // Makes the turn's writes durable (journal sync) and hands them to the applier.
  // Throws SqliteError; the turn's writes are then undone.
  void commit_turn();
  // Undoes the turn's staged writes (after a failure elsewhere in the turn).
  void abort_turn() noexcept;
  // Writes staged in this turn and not yet synced.
  bool has_staged() const { return !staged_.empty(); }
  // Commits the turn so far, then brings the tables up to date with every write.
  void settle();
  // Runs `work` now when the applier is not in a transaction and at most cheap_settle
  // writes wait for it; else after the applier's next commit (hurried, at the loop's
  // priority), with the loop applying a slice at a time once it has waited long.
  void when_cheap(Work work) override;

  // These read the tables as committed (no settling) and add the unapplied writes.
  std::optional<StoredDocument> find(std::string_view collection, std::string_view id) override;
  QueueCounts counts() override;
  std::optional<int64_t> oldest_pending_created_ms() override;
  WriteBacklog backlog() const override;
  int64_t unapplied_count() const { return static_cast<int64_t>(next_lsn_ - 1 - applied_lsn_); }
  // The applier is behind (max_unapplied writes or bytes wait for it, or the file being
  // written is half full while the other still holds writes to apply): a client with
  // more writes than the next should be slowed down to the applier's pace, or the loop
  // soon applies them itself at every other client's expense.
  bool applier_behind() const;
  // Called on the loop each time the applier reports that it applied writes.
  void set_on_applied(std::function<void()> on_applied) { on_applied_ = std::move(on_applied); }

 private:
  struct Key {
    std::string collection;
    std::string id;
    bool operator==(const Key& o) const { return id == o.id && collection == o.collection; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string>()(k.id) * 31 + std::hash<std::string>()(k.collection);
    }
  };
  struct OverlayEntry {
    std::optional<std::string> local_data;
    std::optional<std::string> server_version;
    int64_t updated_at_ms = 0;
    uint64_t lsn = 0;
    bool queued = true;  // false for a local collection's write: nothing waits to sync
  };

  void settle_now();
  bool cheap_to_settle();
  // Runs the work that waits when settling is cheap now, or when `regardless`.
  void run_waiting_work(bool regardless);
  void help_applier();
  // Applies the writes recovered from the journal and opens it for writing.
  void finish_recovery();
  // True while they cannot be applied for want of room (tried again on each call).
  bool recovery_waits();
  // Waits for the applier's transaction, then applies up to `at_most` of the writes
  // handed to it, oldest first, on the loop's connection.
  void drain(size_t at_most = SIZE_MAX);
  void on_progress();
  void forget_applied(uint64_t applied_lsn);
  void maybe_switch_journal();
  // The file being written holds `written` bytes or more while the other one still has
  // writes the tables lack.
  bool other_file_waits(size_t written) const;
  std::string journal_file(int i) const;
  std::string mark_file() const;
  void build_key_filter();
  // The last lsn the tables hold, as recorded in them (0 before any). Throws when the
  // record is damaged.
  uint64_t stored_applied_lsn();
  std::optional<uint64_t> stored_lsn(const char* key);
  // Copies the journal files aside (their records are about to be overwritten) and
  // writes the recovery warning.
  void keep_damaged_files(JournalRecovery& found);

  Database& db_;
  DocumentStore& documents_;
  MutationQueue& queue_;
  LocalWrites& writes_;
  JournaledWritesOptions options_;
  MetaStore meta_;
  // Two files, written in turn: while one fills, the other's records reach the tables.
  std::unique_ptr<Journal> journals_[2];
  std::unique_ptr<JournalMark> mark_;  // the last synced lsn, for the next start
  uint64_t mark_failures_ = 0;
  int current_ = 0;
  uint64_t last_lsn_in_[2] = {0, 0};  // the last record synced to each since start
  std::unique_ptr<KeyFilter> keys_;   // which documents may have a row (loop thread)
  // The start-up's journal records, until they are in the tables (a full disk can delay
  // them; until then nothing new is written).
  std::optional<JournalRecovery> recovery_;
  int64_t recovered_ = 0;
  uint64_t lost_at_start_ = 0;
  std::string recovery_warning_;

  // Loop thread only.
  std::unordered_map<Key, OverlayEntry, KeyHash> overlay_;
  struct Unapplied {
    uint64_t lsn;
    Key key;
    int64_t created_at_ms;
    size_t bytes;
    bool queued = true;  // false: a local collection's write, which waits for no sync
  };
  std::deque<Unapplied> unapplied_order_;          // handed over, in lsn order
  std::deque<uint64_t> local_only_lsns_;           // of unapplied writes that queue nothing
  std::vector<HandedWrite> staged_;                // this turn's writes
  std::vector<Unapplied> staged_order_;            // and where they go
  std::vector<std::optional<OverlayEntry>> undo_;  // each one's overlay entry before it
  uint64_t next_lsn_ = 1;
  uint64_t applied_lsn_ = 0;    // committed to the tables, as last seen by the loop
  size_t unapplied_bytes_ = 0;  // memory held for unapplied writes (about)
  uint64_t loop_slices_ = 0;
  uint64_t applier_raised_ = 0;

  std::unique_ptr<JournalApplier> applier_;
  std::function<void(const std::string&)> on_error_;
  std::function<void()> on_applied_;
  uv_loop_t* loop_ = nullptr;  // set by start()
  std::deque<Work> waiting_work_;
  uv_timer_t work_timer_{};  // bounds how long work waits for the applier
  // The loop holds the tables (the applier waits) from a settle to the next turn.
  uv_prepare_t release_tables_{};
  bool holding_tables_ = false;
};

}  // namespace syncd
