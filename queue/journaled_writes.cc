#include "queue/journaled_writes.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "queue/write_record.h"

namespace syncd {
namespace {
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
  applied_lsn_ = stored_applied_lsn();
  std::vector<HandedWrite> missing;
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
    missing.push_back(HandedWrite{record.lsn, std::move(record.payload)});
  }
  {
    // Also when nothing is missing: the applier of the last run committed without syncing,
    // and the journal files are about to be reused, so this commit (which syncs the WAL)
    // makes what the tables hold durable first.
    Transaction tx(db_);
    if (!missing.empty()) apply_handed_writes(documents_, queue_, meta_, missing);
    meta_.set(kAppliedLsnKey, std::to_string(last));
    tx.commit();
  }
  recovered_ = static_cast<int64_t>(missing.size());
  applied_lsn_ = last;
  next_lsn_ = last + 1;
  applier_ = std::make_unique<JournalApplier>(options_.max_batch, options_.gather, last);
  for (int i = 0; i < 2; ++i) {
    journals_[i] =
        std::make_unique<Journal>(journal_file(i), options_.preallocate_bytes, options_.fsync);
  }
  build_key_filter();
  overlay_.reserve(options_.max_unapplied);
  db_.set_settle_hook([this] { settle_now(); });
}

uint64_t JournaledWrites::stored_applied_lsn() {
  std::optional<std::string> stored = meta_.get(kAppliedLsnKey);
  if (!stored) return 0;
  char* end = nullptr;
  const uint64_t lsn = std::strtoull(stored->c_str(), &end, 10);
  if (stored->empty() || *end != '\0') {
    throw std::runtime_error("database " + db_.path() + ": meta " + kAppliedLsnKey + " is '" +
                             stored->substr(0, 40) + "', not a number; refusing to start");
  }
  return lsn;
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
}

void JournaledWrites::stop() {
  try {
    db_.settle();
  } catch (const std::exception& e) {
    if (on_error_) {
      on_error_(std::string(e.what()) + "; the journal keeps those writes for the next start");
    }
  }
  applier_->stop();
}

LocalWriteResult JournaledWrites::apply(const LocalWrite& write) {
  const auto backlog = static_cast<size_t>(unapplied_count());
  if (backlog >= options_.max_unapplied || unapplied_bytes_ >= options_.max_unapplied_bytes) {
    // Far behind even at full priority: the loop takes a slice of the applier's work,
    // so memory stays bounded and no single wait is long.
    commit_turn();
    drain(options_.max_slice);
    ++loop_slices_;
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
                     prepared.mutation.created_at_ms, lsn};
  if (it != overlay_.end()) {
    undo_.emplace_back(it->second);
    it->second = std::move(entry);
  } else {
    undo_.emplace_back(std::nullopt);
    overlay_.emplace(key, std::move(entry));
  }
  const size_t bytes = unapplied_bytes(record, prepared);
  unapplied_bytes_ += bytes;
  staged_order_.push_back(Unapplied{lsn, std::move(key), prepared.mutation.created_at_ms, bytes});
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

void JournaledWrites::drain(size_t at_most) {
  JournalApplier::Taken taken = applier_->take_for_loop(at_most);
  applied_lsn_ = std::max(applied_lsn_, taken.applied_lsn);
  if (!taken.writes.empty()) {
    try {
      Database::SkipSettle applying_them(db_);
      Transaction tx(db_);
      apply_handed_writes(documents_, queue_, meta_, taken.writes);
      tx.commit();
    } catch (...) {
      applier_->loop_failed(taken.writes);
      throw;
    }
    applied_lsn_ = taken.writes.back().lsn;
    applier_->loop_applied(applied_lsn_);
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
  if (applier_->urgent() &&
      static_cast<size_t>(unapplied_count()) < options_.urgent_unapplied / 4) {
    applier_->set_urgent(false);
  }
  if (!progress.error.empty() && on_error_) on_error_(progress.error);
}

WriteBacklog JournaledWrites::backlog() const {
  return WriteBacklog{static_cast<uint64_t>(unapplied_count()), loop_slices_, applier_raised_};
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
    applied = stored_applied_lsn();
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
