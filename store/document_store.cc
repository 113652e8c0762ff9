#include "store/document_store.h"

namespace syncd {
namespace {
// ORs, not IN: a constant IN list of three terms costs a temporary b-tree per statement
// run (store/schema.cc, migration 2 -> 3).
constexpr const char* kColumns =
    "collection, id, local_data, server_data, server_version, server_deleted, updated_at_ms, "
    "EXISTS (SELECT 1 FROM mutations m WHERE m.collection = d.collection AND m.doc_id = d.id "
    "AND (m.state = 'pending' OR m.state = 'inflight' OR m.state = 'conflict'))";

std::string select_sql(const char* where) {
  return std::string("SELECT ") + kColumns + " FROM documents d " + where;
}
}  // namespace

DocumentStore::DocumentStore(Database& db)
    : db_(db),
      find_(db, select_sql("WHERE collection = ?1 AND id = ?2").c_str()),
      server_state_(db,
                    "SELECT server_data, server_version, server_deleted FROM documents "
                    "WHERE collection = ?1 AND id = ?2"),
      write_base_(db,
                  "SELECT local_data, server_version FROM documents "
                  "WHERE collection = ?1 AND id = ?2"),
      list_(db, select_sql("WHERE collection = ?1 AND id >= ?2 AND id > ?3 AND local_data IS NOT "
                           "NULL ORDER BY id LIMIT ?4")
                    .c_str()),
      upsert_local_(db,
                    "INSERT INTO documents (collection, id, local_data, updated_at_ms) "
                    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (collection, id) DO UPDATE SET "
                    "local_data = excluded.local_data, updated_at_ms = excluded.updated_at_ms"),
      upsert_server_(
          db,
          "INSERT INTO documents (collection, id, server_data, server_version, "
          "server_deleted, local_data, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?3, ?6) "
          "ON CONFLICT (collection, id) DO UPDATE SET server_data = excluded.server_data, "
          "server_version = excluded.server_version, "
          "server_deleted = excluded.server_deleted, "
          "updated_at_ms = excluded.updated_at_ms") {}

StoredDocument DocumentStore::read_row(const Statement& stmt) const {
  StoredDocument doc;
  doc.collection = stmt.column_text(0);
  doc.id = stmt.column_text(1);
  doc.local_data = stmt.column_optional_text(2);
  doc.server_data = stmt.column_optional_text(3);
  doc.server_version = stmt.column_optional_text(4);
  doc.server_deleted = stmt.column_int(5) != 0;
  doc.updated_at_ms = stmt.column_int(6);
  doc.pending = stmt.column_int(7) != 0;
  return doc;
}

std::optional<StoredDocument> DocumentStore::find(std::string_view collection,
                                                  std::string_view id) {
  find_.bind(1, collection).bind(2, id);
  if (!find_.step()) return std::nullopt;
  StoredDocument doc = read_row(find_);
  find_.reset();
  return doc;
}

std::optional<DocumentStore::ServerState> DocumentStore::server_state(std::string_view collection,
                                                                      std::string_view id) {
  server_state_.bind(1, collection).bind(2, id);
  if (!server_state_.step()) return std::nullopt;
  ServerState state;
  if (server_state_.column_int(2) == 0) state.data = server_state_.column_optional_text(0);
  state.version = server_state_.column_optional_text(1);
  server_state_.reset();
  return state;
}

std::optional<DocumentStore::WriteBase> DocumentStore::write_base(std::string_view collection,
                                                                  std::string_view id) {
  write_base_.bind(1, collection).bind(2, id);
  if (!write_base_.step()) return std::nullopt;
  WriteBase base{write_base_.column_optional_text(0), write_base_.column_optional_text(1)};
  write_base_.reset();
  return base;
}

DocumentPage DocumentStore::list(std::string_view collection, std::string_view prefix,
                                 const std::optional<std::string>& after, size_t limit) {
  DocumentPage page;
  // One extra row tells whether there is a next page.
  list_.bind(1, collection)
      .bind(2, prefix)
      .bind(3, after ? std::string_view(*after) : std::string_view(""))
      .bind(4, static_cast<int64_t>(limit) + 1);
  bool more = false;
  while (list_.step()) {
    std::string id = list_.column_text(1);
    if (id.compare(0, prefix.size(), prefix) != 0) break;  // past the prefix range
    if (page.items.size() == limit) {
      more = true;
      break;
    }
    page.items.push_back(read_row(list_));
  }
  list_.reset();
  if (more && !page.items.empty()) page.next = page.items.back().id;
  return page;
}

void DocumentStore::for_each_key(
    const std::function<void(std::string_view, std::string_view)>& visit) {
  Statement keys(db_, "SELECT collection, id FROM documents");
  while (keys.step()) visit(keys.column_text(0), keys.column_text(1));
}

void DocumentStore::set_server_state(std::string_view collection, std::string_view id,
                                     const std::optional<std::string>& data,
                                     const std::string& version, int64_t now_ms) {
  if (filter_) filter_->add(collection, id);
  upsert_server_.bind(1, collection)
      .bind(2, id)
      .bind(3, data)
      .bind(4, version)
      .bind(5, int64_t{data ? 0 : 1})
      .bind(6, now_ms)
      .run();
}

void DocumentStore::set_local_view(std::string_view collection, std::string_view id,
                                   const std::optional<std::string>& local_data, int64_t now_ms) {
  if (filter_) filter_->add(collection, id);
  upsert_local_.bind(1, collection).bind(2, id).bind(3, local_data).bind(4, now_ms).run();
}

}  // namespace syncd
