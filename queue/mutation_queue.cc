#include "queue/mutation_queue.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace syncd {
namespace {
#define MUTATION_COLUMNS                                                      \
  "seq, id, collection, doc_id, op, base_version, payload, state, attempts, " \
  "next_attempt_at_ms, last_error, created_at_ms"

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
      insert_(db,
              "INSERT INTO mutations (id, collection, doc_id, op, base_version, payload, state, "
              "created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)"),
      // The head of each document's queue: no earlier unfinished mutation of the same
      // document (ORs, not IN: see store/schema.cc, migration 2 -> 3). Walks the table in seq
      // order; acked rows are deleted, so what it steps over is the few inflight, failed and
      // conflict rows.
      lease_scan_(db, "SELECT " MUTATION_COLUMNS
                      " FROM mutations m WHERE state = 'pending' AND next_attempt_at_ms <= ?1 "
                      "AND NOT EXISTS (SELECT 1 FROM mutations e WHERE e.collection = m.collection "
                      "AND e.doc_id = m.doc_id AND e.seq < m.seq "
                      "AND (e.state = 'pending' OR e.state = 'inflight' OR e.state = 'conflict')) "
                      "ORDER BY seq LIMIT ?2"),
      // One statement for the whole batch: its seqs come as a JSON array.
      mark_inflight_(db,
                     "UPDATE mutations SET state = 'inflight', attempts = attempts + 1 "
                     "WHERE seq IN (SELECT value FROM json_each(?1))"),
      delete_(db, "DELETE FROM mutations WHERE id = ?1"),
      fail_(db,
            "UPDATE mutations SET state = 'pending', next_attempt_at_ms = ?2, last_error = ?3 "
            "WHERE id = ?1 AND state = 'inflight'"),
      set_state_(db,
                 "UPDATE mutations SET state = ?4, last_error = ?5 "
                 "WHERE id = ?1 AND state IN (?2, ?3)"),
      retry_(db,
             "UPDATE mutations SET state = 'pending', next_attempt_at_ms = ?2 "
             "WHERE id = ?1 AND state IN ('failed', 'conflict')"),
      retry_all_(db,
                 "UPDATE mutations SET state = 'pending', next_attempt_at_ms = ?1 "
                 "WHERE state = 'failed'"),
      recover_(db, "UPDATE mutations SET state = 'pending' WHERE state = 'inflight'"),
      // Non-pending rows come from their small partial index; pending is the rest. The
      // total is a scan of the table: O(queue length), about 20 ms per million rows.
      counts_(db,
              "SELECT state, COUNT(*) FROM mutations WHERE state != 'pending' GROUP BY state "
              "UNION ALL SELECT 'total', COUNT(*) FROM mutations"),
      oldest_(db,
              "SELECT created_at_ms FROM mutations WHERE state = 'pending' "
              "ORDER BY seq LIMIT 1"),
      find_(db, "SELECT " MUTATION_COLUMNS " FROM mutations WHERE id = ?1"),
      list_all_(db,
                "SELECT " MUTATION_COLUMNS " FROM mutations WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
      list_state_(db, "SELECT " MUTATION_COLUMNS
                      " FROM mutations WHERE state = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2"),
      for_document_(db, "SELECT " MUTATION_COLUMNS
                        " FROM mutations WHERE collection = ?1 AND doc_id = ?2 "
                        "AND (state = 'pending' OR state = 'inflight' OR state = 'conflict') "
                        "ORDER BY seq"),
      insert_at_(db,
                 "INSERT INTO mutations (seq, id, collection, doc_id, op, base_version, payload, "
                 "state, attempts, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', "
                 "?8, ?9)"),
      rebase_batch_(db,
                    "UPDATE mutations SET base_version = a.value ->> '$.version' "
                    "FROM json_each(?1) AS a "
                    "WHERE mutations.collection = a.value ->> '$.collection' "
                    "AND mutations.doc_id = a.value ->> '$.doc_id' "
                    "AND mutations.seq > a.value ->> '$.seq' AND mutations.state != 'failed'"),
      delete_batch_(db,
                    "DELETE FROM mutations WHERE seq IN "
                    "(SELECT value ->> '$.seq' FROM json_each(?1))"),
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
  rebase_batch_.bind(1, json).run();
  delete_batch_.bind(1, json).run();
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
  insert_at_.bind(1, old->seq)
      .bind(2, fresh.id)
      .bind(3, fresh.collection)
      .bind(4, fresh.doc_id)
      .bind(5, std::string_view(to_string(fresh.op)))
      .bind(6, fresh.base_version)
      .bind(7, fresh.payload)
      .bind(8, old->attempts)
      .bind(9, old->created_at_ms)
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
  Transaction tx(db_);
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
  delete_.bind(1, id).run();
  return sqlite3_changes(db_.handle()) > 0;
}

bool MutationQueue::fail(std::string_view id, int64_t retry_at_ms, std::string_view error) {
  fail_.bind(1, id).bind(2, retry_at_ms).bind(3, error).run();
  return sqlite3_changes(db_.handle()) > 0;
}

bool MutationQueue::set_state(std::string_view id, MutationState from_a, MutationState from_b,
                              MutationState to, std::string_view error) {
  set_state_.bind(1, id)
      .bind(2, std::string_view(to_string(from_a)))
      .bind(3, std::string_view(to_string(from_b)))
      .bind(4, std::string_view(to_string(to)))
      .bind(5, error)
      .run();
  return sqlite3_changes(db_.handle()) > 0;
}

bool MutationQueue::dead_letter(std::string_view id, std::string_view error) {
  return set_state(id, MutationState::inflight, MutationState::pending, MutationState::failed,
                   error);
}

bool MutationQueue::mark_conflict(std::string_view id, std::string_view error) {
  return set_state(id, MutationState::inflight, MutationState::pending, MutationState::conflict,
                   error);
}

bool MutationQueue::retry(std::string_view id, int64_t now_ms) {
  retry_.bind(1, id).bind(2, now_ms).run();
  return sqlite3_changes(db_.handle()) > 0;
}

int64_t MutationQueue::retry_all_failed(int64_t now_ms) {
  retry_all_.bind(1, now_ms).run();
  return sqlite3_changes(db_.handle());
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
