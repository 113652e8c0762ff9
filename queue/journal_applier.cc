#include "queue/journal_applier.h"

#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <stdexcept>

#include "queue/local_writes.h"
#include "queue/write_record.h"

namespace syncd {

void apply_handed_writes(DocumentStore& documents, MutationQueue& queue, MetaStore& meta,
                         const std::vector<HandedWrite>& batch, uint64_t synced_lsn) {
  for (const HandedWrite& h : batch) {
    std::optional<PreparedWrite> write = decode_write_record(h.record);
    if (!write) {
      throw std::logic_error("journal record " + std::to_string(h.lsn) + " does not decode");
    }
    LocalWrites::store(documents, queue, *write);
  }
  meta.set(kAppliedLsnKey, std::to_string(batch.back().lsn));
  meta.set(kSyncedLsnKey, std::to_string(std::max(synced_lsn, batch.back().lsn)));
}

// The thread's own connection and statements. It checkpoints the WAL itself, after a
// transaction rather than inside its commit: a checkpoint inside the commit kept the
// transaction (which the loop may be waiting for) open for tens of milliseconds.
struct JournalApplier::Store {
  explicit Store(const std::string& path) : db(path), documents(db), queue(db), meta(db) {
    sqlite3_wal_hook(
        db.handle(),
        [](void* pages, sqlite3*, const char*, int wal_pages) {
          *static_cast<int*>(pages) = wal_pages;
          return SQLITE_OK;
        },
        &wal_pages);  // replaces (turns off) SQLite's automatic checkpoint on this connection
    // Its commits need not be durable one by one: the journal holds the writes until a
    // checkpoint (which syncs the WAL) or a commit of the loop's connection (FULL) has
    // made them durable in the database; only then is a journal file reused.
    db.exec("PRAGMA synchronous=NORMAL");
    db.exec(kWalSizeLimitPragma);
    // 1 MiB of page cache: half of SQLite's default (memory), enough that the pages its
    // writes go to stay cached (at 512 KiB it re-read pages, seen in its profile).
    db.exec("PRAGMA cache_size=-1024");
  }
  // True when it checkpointed: the WAL was synced first, so every transaction
  // committed before is durable.
  bool checkpoint_if_due() { return wal_pages >= kCheckpointPages && checkpoint(); }
  //
  // SQLite starts the WAL over only when a writer begins with every frame of it in the
  // database file. Online, the loop commits while a checkpoint copies frames, so a pass
  // never reached the end and the WAL grew without bound (by 94 MB in 3,000 writes of
  // 20 KB to ten documents, the database 720 KB; a small disk filled for good). So: a
  // second passive pass copies what the loop wrote during the first, then a restart
  // checkpoint takes the write lock for what little is left and makes the next writer
  // start the WAL over. It does not wait: busy (a reader or a writer at that instant),
  // the next checkpoint tries again.
  bool checkpoint() {
    wal_pages = 0;
    for (int pass = 0; pass < 2; ++pass) {
      if (sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                    nullptr) != SQLITE_OK) {
        return false;
      }
    }
    sqlite3_busy_timeout(db.handle(), 0);
    (void)sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_RESTART, nullptr,
                                    nullptr);
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);
    return true;
  }
  Database db;
  DocumentStore documents;
  MutationQueue queue;
  MetaStore meta;
  int wal_pages = 0;
};

JournalApplier::JournalApplier(size_t max_batch, std::chrono::milliseconds gather,
                               uint64_t applied_lsn)
    : max_batch_(max_batch),
      gather_(gather),
      applied_lsn_(applied_lsn),
      durable_lsn_(applied_lsn) {}

JournalApplier::~JournalApplier() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void JournalApplier::start(uv_loop_t* loop, const std::string& db_path,
                           std::function<void()> on_progress) {
  store_ = std::make_unique<Store>(db_path);
  on_progress_ = std::move(on_progress);
  uv_async_init(loop, &progress_, [](uv_async_t* handle) {
    static_cast<JournalApplier*>(handle->data)->on_progress_();
  });
  progress_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&progress_));  // never what keeps the loop running
  started_ = true;
  rlimit nice{};
  idle_class_ = ::geteuid() == 0 || (::getrlimit(RLIMIT_NICE, &nice) == 0 &&
                                     (nice.rlim_cur == RLIM_INFINITY || nice.rlim_cur >= 20));
  thread_ = std::thread([this] { run(); });
  (void)::pthread_setname_np(thread_.native_handle(), "syncd-applier");  // for top -H, ps -L
  // Until the thread has set its own priority, a raise from here could be undone by it.
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return running_; });
}

void JournalApplier::stop() {
  if (!started_) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  started_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&progress_), nullptr);
}

void JournalApplier::hand(std::vector<HandedWrite>& writes) {
  if (writes.empty()) return;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    // The thread waits for a first write, then gathers until a batch is full or its
    // time is up: waking it for every turn in between only costs context switches.
    const size_t before = handed_.size();
    wake = before == 0 || (before < max_batch_ && before + writes.size() >= max_batch_);
    handed_lsn_ = std::max(handed_lsn_, writes.back().lsn);
    for (HandedWrite& h : writes) handed_.push_back(std::move(h));
    fresh_ = true;
  }
  writes.clear();
  if (started_ && wake) wake_.notify_one();
}

std::vector<HandedWrite> JournalApplier::take_oldest(size_t at_most) {
  const auto n = static_cast<long>(std::min(at_most, handed_.size()));
  std::vector<HandedWrite> taken(std::make_move_iterator(handed_.begin()),
                                 std::make_move_iterator(handed_.begin() + n));
  handed_.erase(handed_.begin(), handed_.begin() + n);
  return taken;
}

void JournalApplier::give_back(std::vector<HandedWrite>& writes) {
  handed_.insert(handed_.begin(), std::make_move_iterator(writes.begin()),
                 std::make_move_iterator(writes.end()));
}

JournalApplier::Taken JournalApplier::take_for_loop(size_t at_most) {
  Taken taken;
  std::unique_lock lock(mutex_);
  if (busy_ && started_) {
    settle_priority(true);
    idle_.wait(lock, [&] { return !busy_; });
    settle_priority(false);
  }
  taken.writes = take_oldest(at_most);
  taken.applied_lsn = applied_lsn_;
  taken.handed_lsn = handed_lsn_;
  // The thread must not commit newer writes before these older ones, nor take the write
  // lock while the loop uses the tables: it waits for release_tables().
  loop_applying_ = started_;
  loop_wants_ = false;
  wake_.notify_one();  // out of its pause, into the wait for release_tables()
  return taken;
}

void JournalApplier::loop_applied(uint64_t lsn) {
  {
    std::lock_guard lock(mutex_);
    applied_lsn_ = std::max(applied_lsn_, lsn);
  }
}

void JournalApplier::loop_failed(std::vector<HandedWrite>& writes) {
  {
    std::lock_guard lock(mutex_);
    give_back(writes);
  }
}

uint64_t JournalApplier::durable_lsn() {
  std::lock_guard lock(mutex_);
  return durable_lsn_;
}

void JournalApplier::note_durable(uint64_t lsn) {
  std::lock_guard lock(mutex_);
  durable_lsn_ = std::max(durable_lsn_, lsn);
}

JournalApplier::Progress JournalApplier::progress() {
  Progress p;
  std::lock_guard lock(mutex_);
  p.applied_lsn = applied_lsn_;
  p.error.swap(error_);
  if (checkpoint_overdue_ && !checkpoint_wanted_) {
    checkpoint_overdue_ = false;
    settle_priority(false);
  }
  return p;
}

void JournalApplier::set_urgent(bool urgent) {
  if (urgent == urgent_) return;
  urgent_ = urgent;
  settle_priority(false);
}

void JournalApplier::settle_priority(bool loop_waits) {
  set_priority(urgent_ || checkpoint_overdue_ || loop_waits);
}

void JournalApplier::want_tables(size_t handed_at_most) {
  {
    std::lock_guard lock(mutex_);
    loop_wants_ = true;
    pause_at_most_ = handed_at_most;
  }
  wake_.notify_one();
}

JournalApplier::Load JournalApplier::load() {
  std::lock_guard lock(mutex_);
  return Load{busy_, handed_.size()};
}

void JournalApplier::checkpoint_soon(bool overdue) {
  if (overdue && !checkpoint_overdue_) {
    checkpoint_overdue_ = true;
    settle_priority(false);
  }
  {
    std::lock_guard lock(mutex_);
    if (checkpoint_wanted_) return;
    checkpoint_wanted_ = true;
  }
  wake_.notify_one();
}

void JournalApplier::release_tables() {
  {
    std::lock_guard lock(mutex_);
    if (!loop_applying_) return;
    loop_applying_ = false;
  }
  wake_.notify_one();
}

void JournalApplier::set_priority(bool normal) {
  if (!idle_class_ || !started_) return;
  sched_param param{};
  (void)::pthread_setschedparam(thread_.native_handle(), normal ? SCHED_OTHER : SCHED_IDLE, &param);
}

void JournalApplier::run() {
  // The loop answers clients; the applier only catches up, so it runs when a core is
  // otherwise idle (SCHED_IDLE; measured: the applier preempting the loop was most of
  // the p99 of bench/ipc_write, and the ratio to Redis at 16 clients went from about
  // 0.93 at nice 0 or 10 to above 1). When the loop waits for it, it runs at the loop's
  // priority: priority inheritance by hand. Leaving SCHED_IDLE needs root or
  // RLIMIT_NICE >= 20 (systemd: LimitNICE=+0); without them a thread the loop may wait
  // for must not sit in SCHED_IDLE behind busy processes, so it runs at nice 10.
  if (idle_class_) {
    sched_param param{};
    (void)::pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
  } else {
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
  }
  std::unique_lock lock(mutex_);
  running_ = true;
  idle_.notify_all();
  bool failed = false;
  while (true) {
    if (failed) {
      wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || fresh_; });
    } else {
      wake_.wait(lock, [&] {
        return stopping_ || checkpoint_wanted_ || (!handed_.empty() && !loop_applying_);
      });
      // Gather: one transaction for many turns is what makes this cheap.
      if (!handed_.empty() && !loop_applying_) {
        wake_.wait_for(lock, gather_,
                       [&] { return stopping_ || loop_wants_ || handed_.size() >= max_batch_; });
      }
    }
    if (stopping_) break;
    if (checkpoint_wanted_ && (handed_.empty() || loop_applying_)) {
      checkpoint_wanted_ = false;
      const uint64_t committed = applied_lsn_;
      lock.unlock();
      const bool durable = store_->checkpoint();
      lock.lock();
      if (durable) durable_lsn_ = std::max(durable_lsn_, committed);
      uv_async_send(&progress_);  // the loop lowers a priority raised for it
      continue;
    }
    fresh_ = false;
    if (handed_.empty() || loop_applying_) continue;
    // Smaller while the loop waits for the tables: its wait for this commit is shorter.
    std::vector<HandedWrite> batch = take_oldest(loop_wants_ ? max_batch_ / 4 : max_batch_);
    const uint64_t synced = handed_lsn_;
    busy_ = true;
    lock.unlock();
    std::string error;
    try {
      Transaction tx(store_->db);
      apply_handed_writes(store_->documents, store_->queue, store_->meta, batch, synced);
      tx.commit();
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    busy_ = false;
    if (error.empty()) {
      applied_lsn_ = std::max(applied_lsn_, batch.back().lsn);
      failed = false;
    } else {
      give_back(batch);
      error_ = "applying journaled writes: " + error;
      failed = true;
    }
    idle_.notify_all();
    uv_async_send(&progress_);
    const uint64_t committed = applied_lsn_;
    lock.unlock();
    const bool durable = store_->checkpoint_if_due();
    lock.lock();
    if (durable) durable_lsn_ = std::max(durable_lsn_, committed);
    // Little left: the loop's turn with the tables comes before the next transaction.
    if (loop_wants_ && handed_.size() <= pause_at_most_) {
      uv_async_send(&progress_);  // the loop may have looked while it checkpointed
      wake_.wait(lock, [&] { return stopping_ || !loop_wants_; });
    }
  }
}

}  // namespace syncd
