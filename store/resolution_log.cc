#include "store/resolution_log.h"

namespace syncd {

ResolutionLog::ResolutionLog(Database& db)
    : insert_(db,
              "INSERT INTO resolutions (mutation_id, collection, doc_id, strategy, local_data, "
              "remote_data, remote_version, result_data, outcome, resolved_at_ms) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
      recent_(db,
              "SELECT seq, mutation_id, collection, doc_id, strategy, local_data, remote_data, "
              "remote_version, result_data, outcome, resolved_at_ms FROM resolutions "
              "ORDER BY seq DESC LIMIT ?1") {}

void ResolutionLog::record(const Resolution& r) {
  insert_.bind(1, r.mutation_id)
      .bind(2, r.collection)
      .bind(3, r.doc_id)
      .bind(4, r.strategy)
      .bind(5, r.local_data)
      .bind(6, r.remote_data)
      .bind(7, r.remote_version)
      .bind(8, r.result_data)
      .bind(9, r.outcome)
      .bind(10, r.resolved_at_ms)
      .run();
}

std::vector<Resolution> ResolutionLog::recent(size_t limit) {
  recent_.bind(1, static_cast<int64_t>(limit));
  std::vector<Resolution> out;
  while (recent_.step()) {
    Resolution r;
    r.seq = recent_.column_int(0);
    r.mutation_id = recent_.column_text(1);
    r.collection = recent_.column_text(2);
    r.doc_id = recent_.column_text(3);
    r.strategy = recent_.column_text(4);
    r.local_data = recent_.column_optional_text(5);
    r.remote_data = recent_.column_optional_text(6);
    r.remote_version = recent_.column_optional_text(7);
    r.result_data = recent_.column_optional_text(8);
    r.outcome = recent_.column_text(9);
    r.resolved_at_ms = recent_.column_int(10);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace syncd
