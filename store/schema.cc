#include "store/schema.h"

#include <array>
#include <stdexcept>

namespace syncd {
namespace {

// Migration i takes user_version i to i + 1. Append only; never edit a shipped entry.
constexpr std::array<const char*, 4> kMigrations = {
    // 0 -> 1: documents, the mutation queue, key/value metadata.
    R"sql(
CREATE TABLE documents (
  collection    TEXT NOT NULL,
  id            TEXT NOT NULL,
  server_data   TEXT,              -- last known server body (JSON object) or NULL
  server_version TEXT,             -- last known server version or NULL
  server_deleted INTEGER NOT NULL DEFAULT 0,
  local_data    TEXT,              -- local view: server state + pending mutations; NULL = absent
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (collection, id)
) WITHOUT ROWID;
CREATE TABLE mutations (
  seq           INTEGER PRIMARY KEY,  -- queue order (no AUTOINCREMENT: one page less per commit)
  id            TEXT NOT NULL UNIQUE,               -- UUIDv7, sent to the server
  collection    TEXT NOT NULL,
  doc_id        TEXT NOT NULL,
  op            TEXT NOT NULL CHECK (op IN ('put', 'patch', 'delete')),
  base_version  TEXT,
  payload       TEXT,
  state         TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'inflight', 'failed', 'conflict')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  created_at_ms INTEGER NOT NULL
);
CREATE INDEX mutations_by_document ON mutations (collection, doc_id, seq);
-- Only the few rows that are not pending: enqueue (the hot path) never writes to it.
CREATE INDEX mutations_not_pending ON mutations (state, seq) WHERE state != 'pending';
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 1 -> 2: every conflict resolution, with both sides, for `syncctl conflicts --all`.
    R"sql(
CREATE TABLE resolutions (
  seq           INTEGER PRIMARY KEY,
  mutation_id   TEXT NOT NULL,
  collection    TEXT NOT NULL,
  doc_id        TEXT NOT NULL,
  strategy      TEXT NOT NULL,
  local_data    TEXT,   -- what the mutation wanted (NULL: delete)
  remote_data   TEXT,   -- the server's current document (NULL: deleted)
  remote_version TEXT,
  result_data   TEXT,   -- what was kept (NULL: deleted)
  outcome       TEXT NOT NULL,  -- server_wins, client_wins, merged, manual, manual_resolved
  resolved_at_ms INTEGER NOT NULL
);
)sql",
    // 2 -> 3: the mutations table rebuilt with its CHECKs written without IN lists. SQLite
    // evaluates a constant IN list of more than two terms through a temporary b-tree that
    // it builds on every run of a statement: on every INSERT of a mutation, two of them,
    // most of the INSERT's cost (8 us instead of 2.3, measured with SQLite 3.40).
    R"sql(
CREATE TABLE mutations_v3 (
  seq           INTEGER PRIMARY KEY,  -- queue order (no AUTOINCREMENT: one page less per commit)
  id            TEXT NOT NULL UNIQUE,               -- UUIDv7, sent to the server
  collection    TEXT NOT NULL,
  doc_id        TEXT NOT NULL,
  op            TEXT NOT NULL CHECK (op = 'put' OR op = 'patch' OR op = 'delete'),
  base_version  TEXT,
  payload       TEXT,
  state         TEXT NOT NULL DEFAULT 'pending'
                CHECK (state = 'pending' OR state = 'inflight' OR state = 'failed' OR
                       state = 'conflict'),
  attempts      INTEGER NOT NULL DEFAULT 0,
  next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  created_at_ms INTEGER NOT NULL
);
INSERT INTO mutations_v3 SELECT * FROM mutations;
DROP TABLE mutations;
ALTER TABLE mutations_v3 RENAME TO mutations;
CREATE INDEX mutations_by_document ON mutations (collection, doc_id, seq);
-- Only the few rows that are not pending: enqueue (the hot path) never writes to it.
CREATE INDEX mutations_not_pending ON mutations (state, seq) WHERE state != 'pending';
)sql",
    // 3 -> 4: work per acknowledgement and per lease that does not grow with the
    // mutations queued behind one document (a hot document with thousands of them made
    // both quadratic, on the loop). The head of each document's queue (its oldest
    // unfinished mutation) is marked, so a lease reads heads from a small index instead
    // of stepping over every mutation queued behind one in flight; and an
    // acknowledgement records the rebase of the document's later mutations in its
    // documents row (a range of seqs and the version they now build on) instead of
    // rewriting each of them.
    R"sql(
ALTER TABLE mutations ADD COLUMN is_head INTEGER NOT NULL DEFAULT 0;
UPDATE mutations SET is_head = 1
 WHERE (state = 'pending' OR state = 'inflight' OR state = 'conflict')
   AND NOT EXISTS (SELECT 1 FROM mutations e WHERE e.collection = mutations.collection
                   AND e.doc_id = mutations.doc_id AND e.seq < mutations.seq
                   AND (e.state = 'pending' OR e.state = 'inflight' OR e.state = 'conflict'));
CREATE INDEX mutations_heads ON mutations (seq) WHERE is_head = 1 AND state = 'pending';
-- The unfinished mutations of the document with rebase_after < seq <= rebase_through
-- build on rebase_version (the version of its last acknowledged mutation).
ALTER TABLE documents ADD COLUMN rebase_after INTEGER;
ALTER TABLE documents ADD COLUMN rebase_through INTEGER;
ALTER TABLE documents ADD COLUMN rebase_version TEXT;
)sql",
};

std::string quick_check(Database& db) {
  Statement stmt(db, "PRAGMA quick_check");
  std::string result;
  while (stmt.step()) {
    if (!result.empty()) result += "; ";
    result += stmt.column_text(0);
  }
  return result;
}

}  // namespace

int current_schema_version() { return static_cast<int>(kMigrations.size()); }

void prepare_database(Database& db, SyncMode sync_mode) {
  // Only takes effect on a new, empty file (WAL files keep their page size).
  // The first read of the file: a file that is not a database fails here with NOTADB.
  std::string mode;
  {
    Statement stmt(db, "PRAGMA journal_mode=WAL");
    if (stmt.step()) mode = stmt.column_text(0);
    stmt.reset();
  }
  if (mode != "wal") {
    throw std::runtime_error("cannot switch " + db.path() + " to WAL mode (got '" + mode + "')");
  }
  db.set_synchronous_full(sync_mode == SyncMode::full);

  std::string check = quick_check(db);
  if (check != "ok") {
    throw SqliteError(SQLITE_CORRUPT, "database " + db.path() +
                                          " failed PRAGMA quick_check: " + check.substr(0, 400));
  }

  int version = static_cast<int>(db.query_int("PRAGMA user_version"));
  if (version > current_schema_version()) {
    throw std::runtime_error("database " + db.path() + " has schema version " +
                             std::to_string(version) + ", newer than this syncd understands (" +
                             std::to_string(current_schema_version()) +
                             "); run a newer syncd or restore a backup");
  }
  for (int v = version; v < current_schema_version(); ++v) {
    Transaction tx(db);
    db.exec(kMigrations[static_cast<size_t>(v)]);
    db.exec(("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
    tx.commit();
  }
}

}  // namespace syncd
