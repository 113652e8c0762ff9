#include "queue/journaled_writes.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iterator>
#include <stdexcept>

#include "queue/write_record.h"

namespace syncd {
namespace {
constexpr const char* kAppliedLsnKey = "journal_applied_lsn";

// Memory an unapplied write holds: its record, its overlay entry and bookkeeping.
size_t unapplied_bytes(const std::string& record, const PreparedWrite& write) {
  const Mutation& m = write.mutation;
  return 256 + record.size() + 2 * (m.collection.size() + m.doc_id.size()) +
         (write.local_data ? write.local_data->size() : 0);
}
}  // namespace

// The applier thread's own connection and statements.
// The applier thread's own connection and statements. It checkpoints the WAL itself,
// after a transaction rather than inside its commit: a checkpoint inside the commit kept
// the transaction (which the loop may be waiting for) open for tens of milliseconds.
struct JournaledWrites::ApplierStore {
  ApplierStore(const std::string& path, const char* vfs)
      : db(path, vfs), documents(db), queue(db), meta(db) {
    sqlite3_wal_hook(
        db.handle(),
        [](void* pages, sqlite3*, const char*, int wal_pages) {
          *static_cast<int*>(pages) = wal_pages;
          return SQLITE_OK;
        },
        &wal_pages);  // replaces (turns off) SQLite's automatic checkpoint on this connection
  }
  // True when it checkpointed: the WAL was synced first, so every transaction
  // committed before is durable (the applier commits at synchronous=NORMAL).
  bool checkpoint_if_due() {
    if (wal_pages < kCheckpointPages) return false;
    int rc = sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                       nullptr);
    wal_pages = 0;
    return rc == SQLITE_OK;
  }
  static constexpr int kCheckpointPages = 1000;  // SQLite's default autocheckpoint
  Database db;
  DocumentStore documents;
  MutationQueue queue;
  MetaStore meta;
  int wal_pages = 0;
};

JournaledWrites::JournaledWrites(Database& db, DocumentStore& documents, MutationQueue& queue,
                                 LocalWrites& writes, JournaledWritesOptions options)
    : db_(db),
      documents_(documents),
      queue_(queue),
      writes_(writes),
      options_(std::move(options)),
      meta_(db) {
  if (auto stored = meta_.get(kAppliedLsnKey)) {
    char* end = nullptr;
    applied_lsn_ = std::strtoull(stored->c_str(), &end, 10);
    if (stored->empty() || *end != '\0') {
      throw std::runtime_error("database " + db_.path() + ": meta " + kAppliedLsnKey + " is '" +
                               stored->substr(0, 40) + "', not a number; refusing to start");
    }
  }
  std::vector<Handed> missing;
  uint64_t last = applied_lsn_;
  std::vector<JournalRecord> records;
  for (int i = 0; i < 2; ++i) {
    for (JournalRecord& record : Journal::read(journal_file(i)))
      records.push_back(std::move(record));
  }
  std::sort(records.begin(), records.end(),
            [](const JournalRecord& a, const JournalRecord& b) { return a.lsn < b.lsn; });
  for (JournalRecord& record : records) {
    if (record.lsn <= last) continue;  // in the tables already
    if (record.lsn != last + 1) {
      recovery_warning_ += "journal records " + std::to_string(last + 1) + " to " +
                           std::to_string(record.lsn - 1) + " are missing (a damaged file?); ";
    }
    last = record.lsn;
    if (!decode_write_record(record.payload)) {
      throw std::runtime_error("journal " + options_.journal_path + ".*: record " +
                               std::to_string(record.lsn) +
                               " passes its checksum but is not a write this syncd knows; "
                               "refusing to start rather than drop it");
    }
    missing.push_back(Handed{record.lsn, std::move(record.payload)});
  }
  {
    // Also when nothing is missing: the applier of the last run committed without syncing,
    // and the journal files are about to be reused, so this commit (which syncs the WAL)
    // makes what the tables hold durable first.
    Transaction tx(db_);
    if (!missing.empty()) apply_batch(documents_, queue_, meta_, missing);
    meta_.set(kAppliedLsnKey, std::to_string(last));
    tx.commit();
  }
  recovered_ = static_cast<int64_t>(missing.size());
  applied_lsn_ = last;
  thread_applied_lsn_ = last;
  thread_durable_lsn_ = last;
  next_lsn_ = last + 1;
  for (int i = 0; i < 2; ++i) {
    journals_[i] =
        std::make_unique<Journal>(journal_file(i), options_.preallocate_bytes, options_.fsync);
  }
  build_key_filter();
  overlay_.reserve(options_.max_unapplied);
  db_.set_settle_hook([this] { settle_now(); });
}

void JournaledWrites::build_key_filter() {
  // Sized for the table as it is, with room to grow before a second layer.
  Database::SkipSettle every_write_is_applied(db_);
  const auto rows = static_cast<size_t>(db_.query_int("SELECT COUNT(*) FROM documents"));
  keys_ = std::make_unique<KeyFilter>(std::max(2 * rows, size_t{1} << 16));
  documents_.for_each_key(
      [this](std::string_view collection, std::string_view id) { keys_->add(collection, id); });
  documents_.set_key_filter(keys_.get());
}

JournaledWrites::~JournaledWrites() {
  db_.set_settle_hook(nullptr);
  documents_.set_key_filter(nullptr);
  if (applier_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    applier_.join();
  }
}

void JournaledWrites::apply_batch(DocumentStore& documents, MutationQueue& queue, MetaStore& meta,
                                  const std::vector<Handed>& batch) {
  for (const Handed& h : batch) {
    std::optional<PreparedWrite> write = decode_write_record(h.record);
    if (!write)
      throw std::logic_error("journal record " + std::to_string(h.lsn) + " does not decode");
    LocalWrites::store(documents, queue, *write);
  }
  meta.set(kAppliedLsnKey, std::to_string(batch.back().lsn));
}

void JournaledWrites::start(uv_loop_t* loop, const std::string& db_path, const char* vfs,
                            std::function<void(const std::string&)> on_error) {
  applier_store_ = std::make_unique<ApplierStore>(db_path, vfs);
  // Its commits need not be durable one by one: the journal holds the writes until a
  // checkpoint (which syncs the WAL) or a commit of the loop's connection (FULL) has made
  // them durable in the database; only then is a journal file reused.
  applier_store_->db.exec("PRAGMA synchronous=NORMAL");
  // 1 MiB of page cache: half of SQLite's default (memory), enough that the pages its
  // writes go to stay cached (at 512 KiB it re-read pages, seen in its profile).
  applier_store_->db.exec("PRAGMA cache_size=-1024");
  on_error_ = std::move(on_error);
  uv_async_init(loop, &progress_, [](uv_async_t* handle) {
    static_cast<JournaledWrites*>(handle->data)->on_progress();
  });
  progress_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&progress_));  // never what keeps the loop running
  started_ = true;
  rlimit nice{};
  applier_idle_class_ =
      ::geteuid() == 0 || (::getrlimit(RLIMIT_NICE, &nice) == 0 &&
                           (nice.rlim_cur == RLIM_INFINITY || nice.rlim_cur >= 20));
  applier_ = std::thread([this] { run_applier(); });
}

void JournaledWrites::stop() {
  if (!started_) return;
  try {
    db_.settle();
  } catch (const std::exception& e) {
    if (on_error_) {
      on_error_(std::string(e.what()) + "; the journal keeps those writes for the next start");
    }
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  applier_.join();
  started_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&progress_), nullptr);
}

LocalWriteResult JournaledWrites::apply(const LocalWrite& write) {
  const auto backlog = static_cast<size_t>(unapplied_count());
  if (backlog >= options_.max_unapplied || unapplied_bytes_ >= options_.max_unapplied_bytes) {
    // Far behind even at full priority: the loop takes a slice of the applier's work,
    // so memory stays bounded and no single wait is long.
    commit_turn();
    drain(options_.max_slice);
  } else if (backlog >= options_.urgent_unapplied && !applier_raised_) {
    // Behind in idle time (both cores busy): it runs beside the loop until it catches up.
    applier_raised_ = true;
    set_applier_priority(true);
  }
  if (staged_.empty()) maybe_switch_journal();
  Key key{write.collection, write.id};
  std::optional<DocumentStore::WriteBase> base;
  auto it = overlay_.find(key);
  if (it != overlay_.end()) {
    base = DocumentStore::WriteBase{it->second.local_data, it->second.server_version};
  } else if (keys_->add(write.collection, write.id)) {
    Database::SkipSettle current_for_this_document(db_);  // not in the overlay: applied
    base = documents_.write_base(write.collection, write.id);
  }  // else never stored: nothing to read
  // (A key added for a write that is then refused stays: the filter may say "maybe".)
  PreparedWrite prepared = writes_.prepare(write, base);
  const uint64_t lsn = next_lsn_;
  std::string record = encode_write_record(prepared);
  journals_[current_]->append(lsn, record);
  ++next_lsn_;
  OverlayEntry entry{prepared.local_data, base ? base->server_version : std::nullopt,
                     prepared.mutation.created_at_ms, lsn};
  if (it != overlay_.end()) {
    undo_.emplace_back(key, it->second);
    it->second = std::move(entry);
  } else {
    undo_.emplace_back(key, std::nullopt);
    overlay_.emplace(std::move(key), std::move(entry));
  }
  const size_t bytes = unapplied_bytes(record, prepared);
  unapplied_bytes_ += bytes;
  staged_order_.push_back(
      Unapplied{lsn, Key{write.collection, write.id}, prepared.mutation.created_at_ms, bytes});
  staged_.push_back(Handed{lsn, std::move(record)});
  return LocalWriteResult{std::move(prepared.mutation.id), std::move(prepared.local_data)};
}

void JournaledWrites::commit_turn() {
  if (staged_.empty()) return;
  try {
    journals_[current_]->sync();
  } catch (...) {
    abort_turn();
    throw;
  }
  last_lsn_in_[current_] = staged_.back().lsn;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    // The applier waits for a first write, then gathers until a batch is full or its
    // time is up: waking it for every turn in between only costs context switches.
    const size_t before = handed_.size();
    wake = before == 0 ||
           (before < options_.max_batch && before + staged_.size() >= options_.max_batch);
    for (Handed& h : staged_) handed_.push_back(std::move(h));
    fresh_ = true;
  }
  for (Unapplied& u : staged_order_) unapplied_order_.push_back(std::move(u));
  staged_.clear();
  staged_order_.clear();
  undo_.clear();
  if (started_ && wake) wake_.notify_one();
}

void JournaledWrites::abort_turn() noexcept {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->second) {
      overlay_[it->first] = std::move(*it->second);
    } else {
      overlay_.erase(it->first);
    }
  }
  next_lsn_ -= staged_.size();
  for (const Unapplied& u : staged_order_) unapplied_bytes_ -= u.bytes;
  staged_.clear();
  staged_order_.clear();
  undo_.clear();
  journals_[current_]->discard();
}

void JournaledWrites::settle() { db_.settle(); }

void JournaledWrites::settle_now() {
  commit_turn();
  drain();
}

void JournaledWrites::set_applier_priority(bool urgent) {
  if (!applier_idle_class_) return;
  sched_param param{};
  (void)::pthread_setschedparam(applier_.native_handle(), urgent ? SCHED_OTHER : SCHED_IDLE,
                                &param);
}

std::vector<JournaledWrites::Handed> JournaledWrites::take_oldest(size_t at_most) {
  const auto n = static_cast<long>(std::min(at_most, handed_.size()));
  std::vector<Handed> taken(std::make_move_iterator(handed_.begin()),
                            std::make_move_iterator(handed_.begin() + n));
  handed_.erase(handed_.begin(), handed_.begin() + n);
  return taken;
}

void JournaledWrites::give_back(std::vector<Handed>& writes) {
  handed_.insert(handed_.begin(), std::make_move_iterator(writes.begin()),
                 std::make_move_iterator(writes.end()));
}

void JournaledWrites::drain(size_t at_most) {
  std::vector<Handed> rest;
  {
    std::unique_lock lock(mutex_);
    if (busy_ && started_) {
      if (!applier_raised_) set_applier_priority(true);
      idle_.wait(lock, [&] { return !busy_; });
      if (!applier_raised_) set_applier_priority(false);
    }
    rest = take_oldest(at_most);
    applied_lsn_ = std::max(applied_lsn_, thread_applied_lsn_);
    // The applier must not commit newer writes before these older ones: it waits.
    loop_applying_ = !rest.empty();
  }
  if (!rest.empty()) {
    try {
      Database::SkipSettle applying_them(db_);
      Transaction tx(db_);
      apply_batch(documents_, queue_, meta_, rest);
      tx.commit();
    } catch (...) {
      {
        std::lock_guard lock(mutex_);
        give_back(rest);
        loop_applying_ = false;
      }
      wake_.notify_one();
      throw;
    }
    applied_lsn_ = rest.back().lsn;
    {
      std::lock_guard lock(mutex_);
      thread_applied_lsn_ = std::max(thread_applied_lsn_, applied_lsn_);
      // A commit of this connection syncs the WAL: the applier's earlier commits with it.
      thread_durable_lsn_ = std::max(thread_durable_lsn_, applied_lsn_);
      loop_applying_ = false;
    }
    wake_.notify_one();
  }
  forget_applied(applied_lsn_);
}

std::string JournaledWrites::journal_file(int i) const {
  return options_.journal_path + "." + std::to_string(i);
}

void JournaledWrites::maybe_switch_journal() {
  if (journals_[current_]->offset() < options_.preallocate_bytes) return;
  // The other file may be overwritten once every record in it is in the tables, durably.
  // Filling a file takes long enough that the applier has always caught up (and a
  // checkpoint made it durable) by then; if not, the loop finishes the job; if the tables
  // cannot take the writes now, the file grows instead.
  const int other = 1 - current_;
  auto durable = [&] {
    std::lock_guard lock(mutex_);
    return thread_durable_lsn_;
  };
  if (last_lsn_in_[other] > durable()) {
    try {
      drain();
      if (last_lsn_in_[other] > durable()) {
        // Applied, not yet synced: one small commit here syncs the WAL.
        Database::SkipSettle applied_already(db_);
        Transaction tx(db_);
        meta_.set(kAppliedLsnKey, std::to_string(applied_lsn_));
        tx.commit();
        std::lock_guard lock(mutex_);
        thread_durable_lsn_ = std::max(thread_durable_lsn_, applied_lsn_);
      }
    } catch (const std::exception&) {
      return;
    }
  }
  if (last_lsn_in_[other] > durable()) return;
  current_ = other;
  journals_[current_]->rewind();
}

void JournaledWrites::forget_applied(uint64_t applied_lsn) {
  while (!unapplied_order_.empty() && unapplied_order_.front().lsn <= applied_lsn) {
    const Unapplied& done = unapplied_order_.front();
    auto it = overlay_.find(done.key);
    if (it != overlay_.end() && it->second.lsn == done.lsn) overlay_.erase(it);
    unapplied_bytes_ -= done.bytes;
    unapplied_order_.pop_front();
  }
}

void JournaledWrites::on_progress() {
  uint64_t lsn = 0;
  std::string error;
  {
    std::lock_guard lock(mutex_);
    lsn = thread_applied_lsn_;
    error.swap(thread_error_);
  }
  if (lsn > applied_lsn_) {
    applied_lsn_ = lsn;
    forget_applied(lsn);
  }
  if (applier_raised_ && static_cast<size_t>(unapplied_count()) < options_.urgent_unapplied / 4) {
    applier_raised_ = false;
    set_applier_priority(false);
  }
  if (!error.empty() && on_error_) on_error_(error);
}

void JournaledWrites::run_applier() {
  // The loop answers clients; the applier only catches up, so it runs when a core is
  // otherwise idle (SCHED_IDLE; measured: the applier preempting the loop was most of
  // the p99 of bench/ipc_write, and the ratio to Redis at 16 clients went from about
  // 0.93 at nice 0 or 10 to above 1). When the loop waits for it, it runs at the loop's
  // priority: priority inheritance by hand. Leaving SCHED_IDLE needs root or
  // RLIMIT_NICE >= 20 (systemd: LimitNICE=+0); without them a thread the loop may wait
  // for must not sit in SCHED_IDLE behind busy processes, so it runs at nice 10.
  if (applier_idle_class_) {
    sched_param param{};
    (void)::pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
  } else {
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
  }
  ApplierStore& store = *applier_store_;
  std::unique_lock lock(mutex_);
  bool failed = false;
  while (true) {
    if (failed) {
      wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || fresh_; });
    } else {
      wake_.wait(lock, [&] { return stopping_ || (!handed_.empty() && !loop_applying_); });
      // Gather: one transaction for many turns is what makes this cheap.
      wake_.wait_for(lock, options_.gather,
                     [&] { return stopping_ || handed_.size() >= options_.max_batch; });
    }
    if (stopping_) break;
    fresh_ = false;
    if (handed_.empty() || loop_applying_) continue;
    std::vector<Handed> batch = take_oldest(options_.max_batch);
    busy_ = true;
    lock.unlock();
    std::string error;
    try {
      Transaction tx(store.db);
      apply_batch(store.documents, store.queue, store.meta, batch);
      tx.commit();
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    busy_ = false;
    if (error.empty()) {
      thread_applied_lsn_ = std::max(thread_applied_lsn_, batch.back().lsn);
      failed = false;
    } else {
      give_back(batch);
      thread_error_ = "applying journaled writes: " + error;
      failed = true;
    }
    idle_.notify_all();
    uv_async_send(&progress_);
    const uint64_t committed = thread_applied_lsn_;
    lock.unlock();
    const bool durable = store.checkpoint_if_due();
    lock.lock();
    if (durable) thread_durable_lsn_ = std::max(thread_durable_lsn_, committed);
  }
}

std::optional<StoredDocument> JournaledWrites::find(std::string_view collection,
                                                    std::string_view id) {
  auto it = overlay_.find(Key{std::string(collection), std::string(id)});
  if (it == overlay_.end()) {
    Database::SkipSettle applied_already(db_);
    return documents_.find(collection, id);
  }
  StoredDocument doc;
  doc.collection = collection;
  doc.id = id;
  doc.local_data = it->second.local_data;
  doc.server_version = it->second.server_version;
  doc.pending = true;
  doc.updated_at_ms = it->second.updated_at_ms;
  return doc;
}

QueueCounts JournaledWrites::counts() {
  // The counts and the last applied lsn from one snapshot, so a batch the applier has
  // just committed is counted once, whether or not the loop has heard of it yet.
  Database::SkipSettle committed_only(db_);
  const bool own_snapshot = !db_.in_transaction();
  if (own_snapshot) db_.exec("BEGIN");
  QueueCounts counts;
  uint64_t applied = 0;
  try {
    counts = queue_.counts();
    if (auto stored = meta_.get(kAppliedLsnKey)) applied = std::stoull(*stored);
  } catch (...) {
    if (own_snapshot) db_.rollback();
    throw;
  }
  if (own_snapshot) db_.exec("COMMIT");
  counts.pending += static_cast<int64_t>(next_lsn_ - 1 - std::max(applied, applied_lsn_));
  return counts;
}

std::optional<int64_t> JournaledWrites::oldest_pending_created_ms() {
  std::optional<int64_t> oldest;
  {
    Database::SkipSettle committed_only(db_);
    oldest = queue_.oldest_pending_created_ms();
  }
  if (oldest) return oldest;  // anything in the tables is older than the unapplied writes
  if (!unapplied_order_.empty()) return unapplied_order_.front().created_at_ms;
  if (!staged_order_.empty()) return staged_order_.front().created_at_ms;
  return std::nullopt;
}

}  // namespace syncd
