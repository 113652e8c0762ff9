#include "queue/mutation_queue.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace syncd {
namespace {
// Every read of a mutation: its base is the rebase its document's row records when
// the mutation is in that range (schema.cc, migration 3 -> 4), else its own.
#define EFFECTIVE_BASE                                                                    \
  "CASE WHEN m.seq > d.rebase_after AND m.seq <= d.rebase_through THEN d.rebase_version " \
  "ELSE m.base_version END"
#define SELECT_MUTATIONS                                                                   \
  "SELECT m.seq, m.id, m.collection, m.doc_id, m.op, " EFFECTIVE_BASE                      \
  ", m.payload, m.state, m.attempts, m.next_attempt_at_ms, m.last_error, m.created_at_ms " \
  "FROM mutations m LEFT JOIN documents d ON d.collection = m.collection AND d.id = m.doc_id "
#define UNFINISHED(t) \
  "(" t ".state = 'pending' OR " t ".state = 'inflight' OR " t ".state = 'conflict')"
// The oldest unfinished mutation of the document becomes its head (it may be already).
#define MARK_NEXT_HEAD(collection, doc_id)                                       \
  "UPDATE mutations SET is_head = 1 WHERE seq = (SELECT n.seq FROM mutations n " \
  "WHERE n.collection = " collection " AND n.doc_id = " doc_id                   \
  " AND " UNFINISHED("n") " ORDER BY n.seq LIMIT 1)"

Mutation read_mutation(const Statement& stmt) {
  Mutation m;
  m.seq = stmt.column_int(0);
  m.id = stmt.column_text(1);
  m.collection = stmt.column_text(2);
  m.doc_id = stmt.column_text(3);
  m.op = parse_mutation_op(stmt.column_text(4)).value_or(MutationOp::put);
  m.base_version = stmt.column_optional_text(5);
  m.payload = stmt.column_optional_text(6);
  m.state = parse_mutation_state(stmt.column_text(7)).value_or(MutationState::pending);
  m.attempts = stmt.column_int(8);
  m.next_attempt_at_ms = stmt.column_int(9);
  m.last_error = stmt.column_optional_text(10);
  m.created_at_ms = stmt.column_int(11);
  return m;
}
}  // namespace

MutationQueue::MutationQueue(Database& db)
    : db_(db),
      // A new mutation heads its document's queue when nothing of the document is
      // unfinished (ORs, not IN: see store/schema.cc, migration 2 -> 3).
      insert_(db,
              "INSERT INTO mutations (id, collection, doc_id, op, base_version, payload, state, "
              "created_at_ms, is_head) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, "
              "NOT EXISTS (SELECT 1 FROM mutations e WHERE e.collection = ?2 AND e.doc_id = ?3 "
              "AND " UNFINISHED("e") "))"),
      // Pending heads in queue order, from their partial index: what it steps over is
      // only heads waiting for a retry time.
      lease_scan_(db, SELECT_MUTATIONS
                  "WHERE m.is_head = 1 AND m.state = 'pending' AND m.next_attempt_at_ms <= ?1 "
                  "ORDER BY m.seq LIMIT ?2"),
      // One statement for the whole batch: its seqs come as a JSON array.
      mark_inflight_(db,
                     "UPDATE mutations SET state = 'inflight', attempts = attempts + 1 "
                     "WHERE seq IN (SELECT value FROM json_each(?1))"),
      delete_(db, "DELETE FROM mutations WHERE id = ?1 RETURNING collection, doc_id"),
      mark_next_head_(db, MARK_NEXT_HEAD("?1", "?2")),
      fail_(db,
            "UPDATE mutations SET state = 'pending', next_attempt_at_ms = ?2, last_error = ?3 "
            "WHERE id = ?1 AND state = 'inflight'"),
      mark_conflict_(db,
                     "UPDATE mutations SET state = 'conflict', last_error = ?2 "
                     "WHERE id = ?1 AND (state = 'inflight' OR state = 'pending')"),
      // A dead letter keeps the base it would have been sent on (later rebases of its
      // document's queue are not its own) and no longer heads the queue.
      dead_letter_(db,
                   "UPDATE mutations SET state = 'failed', last_error = ?2, is_head = 0, "
                   "base_version = (SELECT " EFFECTIVE_BASE " FROM documents d "
                   "WHERE d.collection = m.collection AND d.id = m.doc_id) "
                   "FROM (SELECT seq, collection, doc_id, base_version FROM mutations "
                   "WHERE id = ?1) AS m "
                   "WHERE mutations.seq = m.seq AND (state = 'inflight' OR state = 'pending') "
                   "RETURNING collection, doc_id"),
      // Back in the queue: a dead letter heads its document's queue only when nothing
      // else of it is unfinished; otherwise it is sent once those have gone, so a
      // document never has two mutations in flight. A conflict is its queue's head.
      retry_(db,
             "UPDATE mutations SET state = 'pending', next_attempt_at_ms = ?2, id = ?3, "
             "is_head = state = 'conflict' OR NOT EXISTS (SELECT 1 FROM mutations e "
             "WHERE e.collection = mutations.collection AND e.doc_id = mutations.doc_id "
             "AND e.seq != mutations.seq AND " UNFINISHED("e") ") "
             "WHERE id = ?1 AND (state = 'failed' OR state = 'conflict')"),
      recover_(db, "UPDATE mutations SET state = 'pending' WHERE state = 'inflight'"),
      // Non-pending rows come from their small partial index; pending is the rest. The
      // total is a scan of the table: O(queue length), about 20 ms per million rows.
      counts_(db,
              "SELECT state, COUNT(*) FROM mutations WHERE state != 'pending' GROUP BY state "
              "UNION ALL SELECT 'total', COUNT(*) FROM mutations"),
      oldest_(db,
              "SELECT created_at_ms FROM mutations WHERE state = 'pending' "
              "ORDER BY seq LIMIT 1"),
      find_(db, SELECT_MUTATIONS "WHERE m.id = ?1"),
      list_all_(db, SELECT_MUTATIONS "WHERE m.seq > ?1 ORDER BY m.seq LIMIT ?2"),
      list_state_(db, SELECT_MUTATIONS "WHERE m.state = ?3 AND m.seq > ?1 ORDER BY m.seq LIMIT ?2"),
      for_document_(db, SELECT_MUTATIONS "WHERE m.collection = ?1 AND m.doc_id = ?2 AND " UNFINISHED(
                            "m") " ORDER BY m.seq"),
      insert_at_(db,
                 "INSERT INTO mutations (seq, id, collection, doc_id, op, base_version, payload, "
                 "state, attempts, created_at_ms, is_head) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10)"),
      // A replaced mutation has a base of its own: the rebase range starts after it (the
      // later mutations keep theirs).
      narrow_rebase_(db,
                     "UPDATE documents SET rebase_after = ?3 WHERE collection = ?1 AND id = ?2 "
                     "AND rebase_after < ?3 AND rebase_through >= ?3"),
      // The later mutations of each acknowledged one's document (those queued now) build
      // on its version: recorded once in the documents row.
      rebase_batch_(db,
                    "UPDATE documents SET rebase_after = a.value ->> '$.seq', "
                    "rebase_version = a.value ->> '$.version', "
                    "rebase_through = (SELECT MAX(m.seq) FROM mutations m "
                    "WHERE m.collection = documents.collection AND m.doc_id = documents.id) "
                    "FROM json_each(?1) AS a "
                    "WHERE documents.collection = a.value ->> '$.collection' "
                    "AND documents.id = a.value ->> '$.doc_id'"),
      delete_batch_(db,
                    "DELETE FROM mutations WHERE seq IN "
                    "(SELECT value ->> '$.seq' FROM json_each(?1))"),
      next_heads_batch_(db,
                        "UPDATE mutations SET is_head = 1 WHERE seq IN (SELECT (SELECT n.seq "
                        "FROM mutations n WHERE n.collection = a.value ->> '$.collection' "
                        "AND n.doc_id = a.value ->> '$.doc_id' AND " UNFINISHED("n")
                        " ORDER BY n.seq LIMIT 1) FROM json_each(?1) AS a)"),
      make_due_(db,
                "UPDATE mutations SET next_attempt_at_ms = ?1 "
                "WHERE state = 'pending' AND next_attempt_at_ms > ?1") {}

void MutationQueue::ack_applied(const std::vector<Applied>& applied) {
  if (applied.empty()) return;
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const Applied& a : applied) {
    w.StartObject();
    w.Key("seq");
    w.Int64(a.seq);
    w.Key("collection");
    w.String(a.collection.data(), static_cast<rapidjson::SizeType>(a.collection.size()));
    w.Key("doc_id");
    w.String(a.doc_id.data(), static_cast<rapidjson::SizeType>(a.doc_id.size()));
    w.Key("version");
    w.String(a.version.data(), static_cast<rapidjson::SizeType>(a.version.size()));
    w.EndObject();
  }
  w.EndArray();
  std::string_view json(buffer.GetString(), buffer.GetSize());
  delete_batch_.bind(1, json).run();
  rebase_batch_.bind(1, json).run();
  next_heads_batch_.bind(1, json).run();
}

int64_t MutationQueue::make_due(int64_t now_ms) {
  make_due_.bind(1, now_ms).run();
  return sqlite3_changes(db_.handle());
}

std::vector<Mutation> MutationQueue::unfinished_for_document(std::string_view collection,
                                                             std::string_view doc_id) {
  for_document_.bind(1, collection).bind(2, doc_id);
  std::vector<Mutation> out;
  while (for_document_.step()) out.push_back(read_mutation(for_document_));
  return out;
}

void MutationQueue::replace(std::string_view old_id, const Mutation& fresh) {
  std::optional<Mutation> old = find(old_id);
  if (!old) return;
  delete_.bind(1, old_id).run();
  narrow_rebase_.bind(1, old->collection).bind(2, old->doc_id).bind(3, old->seq).run();
  insert_at_.bind(1, old->seq)
      .bind(2, fresh.id)
      .bind(3, fresh.collection)
      .bind(4, fresh.doc_id)
      .bind(5, std::string_view(to_string(fresh.op)))
      .bind(6, fresh.base_version)
      .bind(7, fresh.payload)
      .bind(8, old->attempts)
      .bind(9, old->created_at_ms)
      .bind(10, int64_t{old->state != MutationState::failed})
      .run();
}

int64_t MutationQueue::enqueue(const Mutation& m) {
  insert_.bind(1, m.id)
      .bind(2, m.collection)
      .bind(3, m.doc_id)
      .bind(4, std::string_view(to_string(m.op)))
      .bind(5, m.base_version)
      .bind(6, m.payload)
      .bind(7, m.created_at_ms)
      .run();
  return sqlite3_last_insert_rowid(db_.handle());
}

std::vector<Mutation> MutationQueue::lease(int64_t now_ms, size_t max_count, size_t max_bytes) {
  Transaction tx(db_, Durability::deferred);  // inflight returns to pending at a start
  std::vector<Mutation> batch;
  size_t bytes = 0;
  lease_scan_.bind(1, now_ms).bind(2, static_cast<int64_t>(max_count));
  while (lease_scan_.step()) {
    Mutation m = read_mutation(lease_scan_);
    size_t size = m.payload ? m.payload->size() : 0;
    if (!batch.empty() && bytes + size > max_bytes) break;
    bytes += size;
    batch.push_back(std::move(m));
  }
  lease_scan_.reset();
  if (!batch.empty()) {
    std::string seqs = "[";
    for (auto& m : batch) {
      if (seqs.size() > 1) seqs += ',';
      seqs += std::to_string(m.seq);
      m.state = MutationState::inflight;
      ++m.attempts;
    }
    seqs += ']';
    mark_inflight_.bind(1, seqs).run();
  }
  tx.commit();
  return batch;
}

bool MutationQueue::ack(std::string_view id) {
  return leave_and_mark_next_head(delete_.bind(1, id));
}

bool MutationQueue::leave_and_mark_next_head(Statement& returning_document) {
  if (!returning_document.step()) return false;
  const std::string collection = returning_document.column_text(0);
  const std::string doc_id = returning_document.column_text(1);
  returning_document.run();  // to its end (one row), which resets it
  mark_next_head_.bind(1, collection).bind(2, doc_id).run();
  return true;
}

bool MutationQueue::fail(std::string_view id, int64_t retry_at_ms, std::string_view error) {
  fail_.bind(1, id).bind(2, retry_at_ms).bind(3, error).run();
  return sqlite3_changes(db_.handle()) > 0;
}

bool MutationQueue::dead_letter(std::string_view id, std::string_view error) {
  return leave_and_mark_next_head(dead_letter_.bind(1, id).bind(2, error));
}

bool MutationQueue::mark_conflict(std::string_view id, std::string_view error) {
  mark_conflict_.bind(1, id).bind(2, error).run();
  return sqlite3_changes(db_.handle()) > 0;
}

bool MutationQueue::retry(std::string_view id, int64_t now_ms, std::string_view new_id) {
  retry_.bind(1, id).bind(2, now_ms).bind(3, new_id).run();
  return sqlite3_changes(db_.handle()) > 0;
}

int64_t MutationQueue::recover_inflight() {
  recover_.run();
  return sqlite3_changes(db_.handle());
}

QueueCounts MutationQueue::counts() {
  QueueCounts counts;
  int64_t total = 0;
  while (counts_.step()) {
    std::string name = counts_.column_text(0);
    int64_t n = counts_.column_int(1);
    if (name == "total") total = n;
    auto state = parse_mutation_state(name);
    if (!state) continue;
    switch (*state) {
      case MutationState::pending:
        counts.pending = n;
        break;
      case MutationState::inflight:
        counts.inflight = n;
        break;
      case MutationState::failed:
        counts.failed = n;
        break;
      case MutationState::conflict:
        counts.conflict = n;
        break;
    }
  }
  counts.pending = total - counts.inflight - counts.failed - counts.conflict;
  return counts;
}

std::optional<int64_t> MutationQueue::oldest_pending_created_ms() {
  if (!oldest_.step()) return std::nullopt;
  int64_t created = oldest_.column_int(0);
  oldest_.reset();
  return created;
}

std::optional<Mutation> MutationQueue::find(std::string_view id) {
  find_.bind(1, id);
  if (!find_.step()) return std::nullopt;
  Mutation m = read_mutation(find_);
  find_.reset();
  return m;
}

std::vector<Mutation> MutationQueue::list(std::optional<MutationState> state, size_t limit,
                                          int64_t after_seq) {
  Statement& stmt = state ? list_state_ : list_all_;
  stmt.bind(1, after_seq).bind(2, static_cast<int64_t>(limit));
  if (state) stmt.bind(3, std::string_view(to_string(*state)));
  std::vector<Mutation> out;
  while (stmt.step()) out.push_back(read_mutation(stmt));
  return out;
}

}  // namespace syncd
