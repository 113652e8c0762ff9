#include "queue/journaled_writes.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "queue/journal_recovery.h"
#include "queue/write_record.h"
#include "store/journal_mark.h"

namespace syncd {
namespace {
// Meta keys: the last run applied every write before it stopped ("1"); the size the
// journal files were made (0: they grow as records come).
constexpr const char* kCleanStopKey = "journal_clean_stop";
constexpr const char* kFileBytesKey = "journal_file_bytes";
// Work waits this long for the applier; then the loop applies a slice itself this often.
constexpr uint64_t kMostWorkWaitMs = 20;
constexpr uint64_t kSliceEveryMs = 2;

// Memory an unapplied write holds: its record, its overlay entry and bookkeeping.
size_t unapplied_bytes(const std::string& record, const PreparedWrite& write) {
  const Mutation& m = write.mutation;
  return 256 + record.size() + 2 * (m.collection.size() + m.doc_id.size()) +
         (write.local_data ? write.local_data->size() : 0);
}
}  // namespace

JournaledWrites::JournaledWrites(Database& db, DocumentStore& documents, MutationQueue& queue,
                                 LocalWrites& writes, JournaledWritesOptions options)
    : db_(db),
      documents_(documents),
      queue_(queue),
      writes_(writes),
      options_(std::move(options)),
      meta_(db) {
  JournalEvidence evidence;
  evidence.applied_lsn = applied_lsn_ = stored_applied_lsn();
  evidence.synced_lsn =
      std::max(stored_lsn(kSyncedLsnKey).value_or(0), JournalMark::read(mark_file()).value_or(0));
  evidence.stopped_cleanly = meta_.get(kCleanStopKey) == "1";
  evidence.file_bytes = stored_lsn(kFileBytesKey).value_or(0);
  JournalRecovery found = recover_journal({journal_file(0), journal_file(1)}, evidence);
  if (!found.messages.empty()) keep_damaged_files(found);
  lost_at_start_ = found.lost;
  next_lsn_ = found.last_lsn + 1;
  applier_ = std::make_unique<JournalApplier>(options_.max_batch, options_.gather, applied_lsn_);
  build_key_filter();
  overlay_.reserve(options_.max_unapplied);
  recovery_ = std::move(found);
  try {
    finish_recovery();
  } catch (const SqliteError& e) {
    if (!e.is_full()) throw;
    // No room to apply them: they stay in the journal (which is not reused until then),
    // reads see them through the overlay, and writes are refused until there is room.
    for (const HandedWrite& h : recovery_->writes) {
      std::optional<PreparedWrite> w = decode_write_record(h.record);
      overlay_[Key{w->mutation.collection, w->mutation.doc_id}] =
          OverlayEntry{w->local_data, w->mutation.base_version, w->mutation.created_at_ms, h.lsn,
                       !w->local_only};
      if (w->local_only) local_only_lsns_.push_back(h.lsn);
    }
    recovery_warning_ += "the disk is full: " + std::to_string(recovery_->writes.size()) +
                         " acknowledged writes from the journal wait for room (reads see them; "
                         "writes are refused with storage_full until then): " +
                         e.what() + "\n";
  }
  db_.set_settle_hook([this] { settle_now(); });
}

void JournaledWrites::finish_recovery() {
  // Also when nothing is missing: the applier of the last run committed without syncing,
  // and the journal files are about to be reused, so this commit (which syncs the WAL)
  // makes what the tables hold durable first. Lost lsns count as applied, so numbering
  // goes on after them. Opening the files changes nothing in them (a file shorter than
  // its size is extended with zeros); the first sync writes over them from the start.
  const uint64_t last = recovery_->last_lsn;
  bool preallocated = true;
  for (int i = 0; i < 2; ++i) {
    if (!journals_[i]) {
      journals_[i] =
          std::make_unique<Journal>(journal_file(i), options_.preallocate_bytes, options_.fsync);
    }
    preallocated = preallocated && journals_[i]->preallocated();
  }
  {
    Database::SkipSettle recovering(db_);
    Transaction tx(db_);
    if (!recovery_->writes.empty()) {
      apply_handed_writes(documents_, queue_, meta_, recovery_->writes, last);
    }
    meta_.set(kAppliedLsnKey, std::to_string(last));
    meta_.set(kSyncedLsnKey, std::to_string(last));
    meta_.set(kCleanStopKey, "0");
    meta_.set(kFileBytesKey, std::to_string(preallocated ? options_.preallocate_bytes : 0));
    tx.commit();
  }
  if (!mark_) mark_ = std::make_unique<JournalMark>(mark_file());
  mark_->write(last);
  for (const HandedWrite& h : recovery_->writes) {
    std::optional<PreparedWrite> w = decode_write_record(h.record);
    keys_->add(w->mutation.collection, w->mutation.doc_id);
    auto it = overlay_.find(Key{w->mutation.collection, w->mutation.doc_id});
    if (it != overlay_.end() && it->second.lsn == h.lsn) overlay_.erase(it);
  }
  applied_lsn_ = last;
  applier_->note_durable(last);
  recovered_ = static_cast<int64_t>(recovery_->writes.size());
  recovery_.reset();
}

bool JournaledWrites::recovery_waits() {
  if (!recovery_) return false;
  try {
    finish_recovery();
    return false;
  } catch (const SqliteError& e) {
    if (!e.is_full()) throw;
    return true;
  }
}

uint64_t JournaledWrites::stored_applied_lsn() { return stored_lsn(kAppliedLsnKey).value_or(0); }

std::optional<uint64_t> JournaledWrites::stored_lsn(const char* key) {
  std::optional<std::string> stored = meta_.get(key);
  if (!stored) return std::nullopt;
  char* end = nullptr;
  const uint64_t lsn = std::strtoull(stored->c_str(), &end, 10);
  if (stored->empty() || *end != '\0' ||
      !std::isdigit(static_cast<unsigned char>(stored->front()))) {
    throw std::runtime_error("database " + db_.path() + ": meta " + key + " is '" +
                             stored->substr(0, 40) + "', not a number; refusing to start");
  }
  return lsn;
}

void JournaledWrites::keep_damaged_files(JournalRecovery& found) {
  // The files are about to be reused: what is left of them goes aside for a look.
  const std::string suffix = ".damaged-" + std::to_string(::time(nullptr));
  std::string kept;
  for (int i = 0; i < 2; ++i) {
    std::error_code error;
    if (!std::filesystem::exists(journal_file(i), error)) continue;
    std::filesystem::copy_file(journal_file(i), journal_file(i) + suffix,
                               std::filesystem::copy_options::overwrite_existing, error);
    kept += (kept.empty() ? "" : ", ") +
            (error ? "not " + journal_file(i) + suffix + " (" + error.message() + ")"
                   : journal_file(i) + suffix);
  }
  for (std::string& message : found.messages) {
    recovery_warning_ +=
        message + (kept.empty() ? "" : "; the journal files are kept as " + kept) + "\n";
  }
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
}

void JournaledWrites::start(uv_loop_t* loop, const std::string& db_path,
                            std::function<void(const std::string&)> on_error) {
  on_error_ = std::move(on_error);
  applier_->start(loop, db_path, [this] { on_progress(); });
  loop_ = loop;
  uv_timer_init(loop, &work_timer_);
  work_timer_.data = this;
  uv_prepare_init(loop, &release_tables_);
  release_tables_.data = this;
  // The checkpoints move to the applier thread: on the loop's connection one held the
  // loop for tens of milliseconds (writing pages to the database file and syncing it).
  sqlite3_wal_hook(
      db_.handle(),
      [](void* self, sqlite3*, const char*, int wal_pages) {
        if (wal_pages >= kCheckpointPages) {
          static_cast<JournaledWrites*>(self)->applier_->checkpoint_soon(wal_pages >=
                                                                         2 * kCheckpointPages);
        }
        return SQLITE_OK;
      },
      this);
  db_.exec(kWalSizeLimitPragma);
}

void JournaledWrites::stop() {
  try {
    db_.settle();
    run_waiting_work(true);  // on the settled tables
    // Every write is in the tables: the next start expects nothing of the journal.
    Database::SkipSettle settled(db_);
    Transaction tx(db_);
    meta_.set(kCleanStopKey, "1");
    tx.commit();
  } catch (const std::exception& e) {
    if (on_error_) {
      on_error_(std::string(e.what()) + "; the journal keeps those writes for the next start");
    }
  }
  applier_->stop();
  if (loop_) {
    sqlite3_wal_autocheckpoint(db_.handle(), kCheckpointPages);  // the default again
    uv_close(reinterpret_cast<uv_handle_t*>(&work_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&release_tables_), nullptr);
    loop_ = nullptr;
  }
}

LocalWriteResult JournaledWrites::apply(const LocalWrite& write) {
  if (recovery_waits()) {
    throw SqliteError(SQLITE_FULL, "the disk is full: " + std::to_string(recovery_->writes.size()) +
                                       " acknowledged writes from the journal wait for room "
                                       "before new writes are taken");
  }
  const auto backlog = static_cast<size_t>(unapplied_count());
  // Behind (applier_behind()), writers are paced by the IPC server; twice as far, or the
  // file being written nearly full while the other still holds writes to apply
  // (switching files would then apply them all at once: 24,000 writes held the loop for
  // 280 ms), the loop takes a slice of the applier's work itself, so memory stays
  // bounded. One slice a turn (a slice a write held the loop for 50 ms).
  const bool far_behind = backlog >= 2 * options_.max_unapplied ||
                          unapplied_bytes_ >= 2 * options_.max_unapplied_bytes ||
                          other_file_waits(options_.preallocate_bytes / 4 * 3);
  if (far_behind) {
    if (!holding_tables_) {
      commit_turn();
      drain(options_.max_slice);
      ++loop_slices_;
    }
  } else if (backlog >= options_.urgent_unapplied && !applier_->urgent()) {
    // Behind in idle time (both cores busy): it runs beside the loop until it catches up.
    applier_->set_urgent(true);
    ++applier_raised_;
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
                     prepared.mutation.created_at_ms, lsn, !prepared.local_only};
  if (it != overlay_.end()) {
    undo_.emplace_back(it->second);
    it->second = std::move(entry);
  } else {
    undo_.emplace_back(std::nullopt);
    overlay_.emplace(key, std::move(entry));
  }
  const size_t bytes = unapplied_bytes(record, prepared);
  unapplied_bytes_ += bytes;
  staged_order_.push_back(
      Unapplied{lsn, std::move(key), prepared.mutation.created_at_ms, bytes, !prepared.local_only});
  if (prepared.local_only) local_only_lsns_.push_back(lsn);
  staged_.push_back(HandedWrite{lsn, std::move(record)});
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
  // Before any of them is answered: the next start then knows the journal reached here.
  if (!mark_->write(last_lsn_in_[current_])) ++mark_failures_;
  applier_->hand(staged_);
  for (Unapplied& u : staged_order_) unapplied_order_.push_back(std::move(u));
  staged_order_.clear();
  undo_.clear();
}

void JournaledWrites::abort_turn() noexcept {
  // Newest first: a document written twice in the turn ends as it was before both.
  for (size_t i = undo_.size(); i-- > 0;) {
    const Key& key = staged_order_[i].key;
    if (undo_[i]) {
      overlay_[key] = std::move(*undo_[i]);
    } else {
      overlay_.erase(key);
    }
  }
  next_lsn_ -= staged_.size();
  while (!local_only_lsns_.empty() && local_only_lsns_.back() >= next_lsn_) {
    local_only_lsns_.pop_back();
  }
  for (const Unapplied& u : staged_order_) unapplied_bytes_ -= u.bytes;
  staged_.clear();
  staged_order_.clear();
  undo_.clear();
  journals_[current_]->discard();
}

void JournaledWrites::settle() { db_.settle(); }

bool JournaledWrites::cheap_to_settle() {
  if (!loop_ || recovery_) return true;  // no applier to wait for
  const JournalApplier::Load load = applier_->load();
  return (holding_tables_ || !load.busy) && load.handed + staged_.size() <= options_.cheap_settle;
}

void JournaledWrites::when_cheap(Work work) {
  if (waiting_work_.empty() && cheap_to_settle()) {
    work();
    return;
  }
  waiting_work_.push_back(std::move(work));
  if (waiting_work_.size() > 1) return;
  // The loop waits for the applier now: it commits what it has without gathering more,
  // then pauses for the loop's turn with the tables. Its priority stays: raised, it
  // preempted the loop at every wake-up; when it gets no core, the loop helps.
  applier_->want_tables(options_.cheap_settle);
  uv_timer_start(
      &work_timer_,
      [](uv_timer_t* timer) { static_cast<JournaledWrites*>(timer->data)->help_applier(); },
      kMostWorkWaitMs, kSliceEveryMs);
}

void JournaledWrites::help_applier() {
  // The applier has not caught up in time: starved of a core, it sits between
  // transactions, and the loop applies a slice a turn itself, so the work waits no
  // longer than the backlog takes and no turn holds the loop for more than a slice. In a
  // transaction, it is working: waiting for its commit would hold the loop.
  if (applier_->load().busy) return;
  try {
    drain(options_.max_slice);
    ++loop_slices_;
  } catch (const std::exception& e) {
    run_waiting_work(true);  // each settles for itself, and reports the failure
    return;
  }
  run_waiting_work(false);
}

void JournaledWrites::run_waiting_work(bool regardless) {
  if (waiting_work_.empty() || !(regardless || cheap_to_settle())) return;
  if (loop_) uv_timer_stop(&work_timer_);
  // One by one from the front: work asked for while this runs goes after it, in order
  // (the tables are settled by then, so it does not wait).
  while (!waiting_work_.empty()) {
    Work work = std::move(waiting_work_.front());
    waiting_work_.pop_front();
    work();
  }
}

void JournaledWrites::settle_now() {
  // While the recovered writes wait for room, reads go on without them (get sees them in
  // the overlay); whatever writes to the tables would fail on the full disk as well.
  if (recovery_waits()) return;
  commit_turn();
  drain();
}

void JournaledWrites::drain(size_t at_most) {
  JournalApplier::Taken taken = applier_->take_for_loop(at_most);
  if (loop_ && !holding_tables_) {
    // Kept for the rest of the turn: the statements that follow this settle do not wait
    // for the applier's transactions.
    holding_tables_ = true;
    uv_prepare_start(&release_tables_, [](uv_prepare_t* prepare) {
      auto* self = static_cast<JournaledWrites*>(prepare->data);
      self->holding_tables_ = false;
      self->applier_->release_tables();
      uv_prepare_stop(prepare);
    });
  }
  applied_lsn_ = std::max(applied_lsn_, taken.applied_lsn);
  if (!taken.writes.empty()) {
    try {
      Database::SkipSettle applying_them(db_);
      // Not synced: the journal keeps these writes until a checkpoint of the applier (or
      // the commit before a journal file is reused) has made them durable.
      Transaction tx(db_, Durability::deferred);
      apply_handed_writes(documents_, queue_, meta_, taken.writes, taken.handed_lsn);
      tx.commit();
    } catch (...) {
      applier_->loop_failed(taken.writes);
      throw;
    }
    applied_lsn_ = taken.writes.back().lsn;
    applier_->loop_applied(applied_lsn_);
  }
  forget_applied(applied_lsn_);
  // The applier may now have nothing left to report on.
  if (on_applied_) on_applied_();
}

std::string JournaledWrites::journal_file(int i) const {
  return options_.journal_path + "." + std::to_string(i);
}

std::string JournaledWrites::mark_file() const { return options_.journal_path + ".mark"; }

void JournaledWrites::maybe_switch_journal() {
  if (journals_[current_]->offset() < options_.preallocate_bytes) return;
  // The other file may be overwritten once every record in it is in the tables, durably.
  // Filling a file takes long enough that the applier has always caught up (and a
  // checkpoint made it durable) by then; if not, the loop finishes the job; if the tables
  // cannot take the writes now, the file grows instead.
  const int other = 1 - current_;
  if (last_lsn_in_[other] > applier_->durable_lsn()) {
    try {
      drain();
      if (last_lsn_in_[other] > applier_->durable_lsn()) {
        // Applied, not yet synced: one small commit here syncs the WAL.
        Database::SkipSettle applied_already(db_);
        Transaction tx(db_);
        meta_.set(kAppliedLsnKey, std::to_string(applied_lsn_));
        tx.commit();
        applier_->note_durable(applied_lsn_);
      }
    } catch (const std::exception&) {
      return;
    }
  }
  if (last_lsn_in_[other] > applier_->durable_lsn()) return;
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
  JournalApplier::Progress progress = applier_->progress();
  if (progress.applied_lsn > applied_lsn_) {
    applied_lsn_ = progress.applied_lsn;
    forget_applied(applied_lsn_);
  }
  run_waiting_work(false);
  if (applier_->urgent() && waiting_work_.empty() &&
      static_cast<size_t>(unapplied_count()) < options_.urgent_unapplied / 4) {
    applier_->set_urgent(false);
  }
  if (!progress.error.empty() && on_error_) on_error_(progress.error);
  if (on_applied_) on_applied_();
}

bool JournaledWrites::applier_behind() const {
  return static_cast<size_t>(unapplied_count()) >= options_.max_unapplied ||
         unapplied_bytes_ >= options_.max_unapplied_bytes ||
         other_file_waits(options_.preallocate_bytes / 2);
}

bool JournaledWrites::other_file_waits(size_t written) const {
  return journals_[current_]->offset() >= written && last_lsn_in_[1 - current_] > applied_lsn_;
}

WriteBacklog JournaledWrites::backlog() const {
  return WriteBacklog{static_cast<uint64_t>(unapplied_count()), loop_slices_, applier_raised_,
                      lost_at_start_, mark_failures_};
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
  doc.pending = it->second.queued;
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
    applied = stored_applied_lsn();
  } catch (...) {
    if (own_snapshot) db_.rollback();
    throw;
  }
  if (own_snapshot) db_.exec("COMMIT");
  // Every acknowledged write not yet in the tables is pending, but a local collection's.
  const uint64_t done = std::max(applied, applied_lsn_);
  while (!local_only_lsns_.empty() && local_only_lsns_.front() <= done)
    local_only_lsns_.pop_front();
  counts.pending += static_cast<int64_t>(next_lsn_ - 1 - done - local_only_lsns_.size());
  return counts;
}

std::optional<int64_t> JournaledWrites::oldest_pending_created_ms() {
  std::optional<int64_t> oldest;
  {
    Database::SkipSettle committed_only(db_);
    oldest = queue_.oldest_pending_created_ms();
  }
  if (oldest) return oldest;  // anything in the tables is older than the unapplied writes
  for (const Unapplied& u : unapplied_order_) {
    if (u.queued) return u.created_at_ms;
  }
  for (const Unapplied& u : staged_order_) {
    if (u.queued) return u.created_at_ms;
  }
  return std::nullopt;
}

}  // namespace syncd
