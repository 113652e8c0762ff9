#pragma once
// The documents table: for each (collection, id) the last known server state and the
// local view, which is that state with every pending local mutation applied
// (local view = server state + pending mutations). Reads see the local view. Writes
// here never commit: callers wrap them in a Transaction with the matching queue change.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/key_filter.h"
#include "store/sqlite.h"

namespace syncd {

struct StoredDocument {
  std::string collection;
  std::string id;
  std::optional<std::string> local_data;  // JSON object text; nullopt = deleted or absent
  std::optional<std::string> server_data;
  std::optional<std::string> server_version;
  bool server_deleted = false;
  bool pending = false;  // a local mutation of it waits (pending, inflight or conflict)
  int64_t updated_at_ms = 0;

  bool visible() const { return local_data.has_value(); }
};

struct DocumentPage {
  std::vector<StoredDocument> items;
  std::optional<std::string> next;  // id to pass as `after` for the next page
};

class DocumentStore {
 public:
  explicit DocumentStore(Database& db);

  // The row, tombstones included; nullopt when never seen.
  std::optional<StoredDocument> find(std::string_view collection, std::string_view id);
  // Only the server state (cheaper than find: no pending lookup); nullopt when unknown.
  struct ServerState {
    std::optional<std::string> data;  // nullopt when deleted
    std::optional<std::string> version;
  };
  std::optional<ServerState> server_state(std::string_view collection, std::string_view id);

  // What a local write builds on: the local view and the server version (no pending
  // lookup: the hot path of every put).
  struct WriteBase {
    std::optional<std::string> local_data;
    std::optional<std::string> server_version;
  };
  std::optional<WriteBase> write_base(std::string_view collection, std::string_view id);

  // Visible documents of a collection in id (byte) order, ids starting with `prefix`,
  // strictly after `after`.
  DocumentPage list(std::string_view collection, std::string_view prefix,
                    const std::optional<std::string>& after, size_t limit);

  // Sets the local view of a document, creating the row when needed.
  void set_local_view(std::string_view collection, std::string_view id,
                      const std::optional<std::string>& local_data, int64_t now_ms);
  // Every key in the table, tombstones included (to fill a KeyFilter).
  void for_each_key(const std::function<void(std::string_view, std::string_view)>& visit);
  // Keys this store writes are added to `filter` (null: none) before their rows.
  void set_key_filter(KeyFilter* filter) { filter_ = filter; }

  // Records the server's state of a document (data nullopt when deleted), creating the
  // row when needed; the local view is left alone.
  void set_server_state(std::string_view collection, std::string_view id,
                        const std::optional<std::string>& data, const std::string& version,
                        int64_t now_ms);

 private:
  StoredDocument read_row(const Statement& stmt) const;

  Database& db_;
  KeyFilter* filter_ = nullptr;
  Statement find_;
  Statement server_state_;
  Statement write_base_;
  Statement list_;
  Statement upsert_local_;
  Statement upsert_server_;
};

}  // namespace syncd
