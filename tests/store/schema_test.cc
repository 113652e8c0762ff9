#include "store/schema.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "store/document_store.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

using testing::TempDir;

TEST(Schema, NewFileGetsTheCurrentVersionInWalMode) {
  TempDir dir;
  Database db(dir.file("a.db"));
  prepare_database(db, SyncMode::full);
  EXPECT_EQ(db.query_int("PRAGMA user_version"), current_schema_version());
  EXPECT_EQ(db.query_int("PRAGMA synchronous"), 2);  // FULL
  Statement mode(db, "PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_text(0), "wal");
}

TEST(Schema, ReopeningKeepsDataAndDoesNotMigrateAgain) {
  TempDir dir;
  {
    Database db(dir.file("a.db"));
    prepare_database(db, SyncMode::normal);
    DocumentStore docs(db);
    docs.set_local_view("c", "x", std::string(R"({"v":1})"), 1);
  }
  Database db(dir.file("a.db"));
  prepare_database(db, SyncMode::normal);
  DocumentStore docs(db);
  auto doc = docs.find("c", "x");
  ASSERT_TRUE(doc);
  EXPECT_EQ(*doc->local_data, R"({"v":1})");
}

TEST(Schema, MigratesAnUnversionedEmptyFileForward) {
  TempDir dir;
  {
    Database db(dir.file("a.db"));
    db.exec("CREATE TABLE unrelated (x)");  // a file at user_version 0
  }
  Database db(dir.file("a.db"));
  prepare_database(db, SyncMode::normal);
  EXPECT_EQ(db.query_int("PRAGMA user_version"), current_schema_version());
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM documents"), 0);
}

// The opcodes of `sql`'s program, as EXPLAIN lists them.
std::vector<std::string> opcodes(Database& db, const std::string& sql) {
  std::vector<std::string> out;
  Statement explain(db, ("EXPLAIN " + sql).c_str());
  while (explain.step()) out.push_back(explain.column_text(1));
  return out;
}

TEST(Schema, Version3RebuildsTheQueueWithChecksThatNeedNoTemporaryTable) {
  TempDir dir;
  const std::string insert =
      "INSERT INTO mutations (id, collection, doc_id, op, payload, created_at_ms) "
      "VALUES ('m3', 'c', 'x', 'put', '{}', 3)";
  {
    Database db(dir.file("a.db"));
    prepare_database(db, SyncMode::normal);
    // Back to the tables as version 2 shipped them, with two mutations in the queue.
    db.exec(R"sql(
DROP TABLE documents;
CREATE TABLE documents (
  collection TEXT NOT NULL, id TEXT NOT NULL, server_data TEXT, server_version TEXT,
  server_deleted INTEGER NOT NULL DEFAULT 0, local_data TEXT, updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (collection, id)) WITHOUT ROWID;
DROP TABLE mutations;
CREATE TABLE mutations (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, collection TEXT NOT NULL,
  doc_id TEXT NOT NULL, op TEXT NOT NULL CHECK (op IN ('put', 'patch', 'delete')),
  base_version TEXT, payload TEXT,
  state TEXT NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'inflight', 'failed', 'conflict')),
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT, created_at_ms INTEGER NOT NULL);
CREATE INDEX mutations_by_document ON mutations (collection, doc_id, seq);
CREATE INDEX mutations_not_pending ON mutations (state, seq) WHERE state != 'pending';
INSERT INTO mutations VALUES (7, 'm1', 'c', 'x', 'put', NULL, '{"a":1}', 'inflight', 2, 0, NULL, 1);
INSERT INTO mutations VALUES (9, 'm2', 'c', 'x', 'patch', 'v1', '{"b":2}', 'failed', 5, 99, 'no', 2);
PRAGMA user_version = 2;
)sql");
    const std::vector<std::string> before = opcodes(db, insert);
    ASSERT_NE(std::count(before.begin(), before.end(), "OpenEphemeral"), 0);  // why 3 exists
  }
  Database db(dir.file("a.db"));
  prepare_database(db, SyncMode::normal);
  EXPECT_EQ(db.query_int("PRAGMA user_version"), current_schema_version());
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM mutations"), 2);
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM mutations WHERE seq = 7 AND id = 'm1' AND "
                         "state = 'inflight' AND attempts = 2 AND payload = '{\"a\":1}'"),
            1);
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM mutations WHERE seq = 9 AND op = 'patch' AND "
                         "base_version = 'v1' AND state = 'failed' AND next_attempt_at_ms = 99 "
                         "AND last_error = 'no' AND created_at_ms = 2"),
            1);
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
                         "('mutations_by_document', 'mutations_not_pending')"),
            2);
  const std::vector<std::string> ops = opcodes(db, insert);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "OpenEphemeral"), 0);
  // The checks still hold.
  EXPECT_THROW(db.exec("INSERT INTO mutations (id, collection, doc_id, op, created_at_ms) "
                       "VALUES ('bad', 'c', 'y', 'frob', 4)"),
               SqliteError);
  EXPECT_THROW(db.exec("UPDATE mutations SET state = 'gone' WHERE seq = 7"), SqliteError);
  db.exec(insert.c_str());
  EXPECT_EQ(db.query_int("SELECT MAX(seq) FROM mutations"), 10);  // after the kept ones
}

TEST(Schema, Version4MarksEachDocumentsQueueHead) {
  TempDir dir;
  {
    Database db(dir.file("a.db"));
    prepare_database(db, SyncMode::normal);
    // Back to the tables as version 3 left them: no heads, no rebase columns.
    db.exec(R"sql(
DROP INDEX mutations_heads;
ALTER TABLE mutations DROP COLUMN is_head;
ALTER TABLE documents DROP COLUMN rebase_after;
ALTER TABLE documents DROP COLUMN rebase_through;
ALTER TABLE documents DROP COLUMN rebase_version;
INSERT INTO mutations (seq, id, collection, doc_id, op, state, created_at_ms) VALUES
  (1, 'x-failed', 'c', 'x', 'put', 'failed', 1),
  (2, 'x-inflight', 'c', 'x', 'put', 'inflight', 2),
  (3, 'x-pending', 'c', 'x', 'put', 'pending', 3),
  (4, 'y-failed', 'c', 'y', 'put', 'failed', 4),
  (5, 'y-pending', 'c', 'y', 'put', 'pending', 5),
  (6, 'y-later', 'c', 'y', 'put', 'pending', 6),
  (7, 'z-conflict', 'c', 'z', 'put', 'conflict', 7),
  (8, 'z-pending', 'c', 'z', 'put', 'pending', 8);
PRAGMA user_version = 3;
)sql");
  }
  Database db(dir.file("a.db"));
  prepare_database(db, SyncMode::normal);
  EXPECT_EQ(db.query_int("PRAGMA user_version"), current_schema_version());
  Statement heads(db, "SELECT id FROM mutations WHERE is_head = 1 ORDER BY seq");
  std::vector<std::string> ids;
  while (heads.step()) ids.push_back(heads.column_text(0));
  EXPECT_EQ(ids, (std::vector<std::string>{"x-inflight", "y-pending", "z-conflict"}));
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM documents WHERE rebase_version IS NOT NULL"), 0);
}

TEST(Schema, RefusesAFileFromANewerSyncd) {
  TempDir dir;
  {
    Database db(dir.file("a.db"));
    prepare_database(db, SyncMode::normal);
    db.exec(("PRAGMA user_version=" + std::to_string(current_schema_version() + 1)).c_str());
  }
  Database db(dir.file("a.db"));
  try {
    prepare_database(db, SyncMode::normal);
    FAIL() << "a newer schema was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this syncd"), std::string::npos) << e.what();
  }
}

TEST(Schema, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  {
    std::ofstream out(dir.file("a.db"), std::ios::binary);
    for (int i = 0; i < 1000; ++i) out << "this is not sqlite ";
  }
  try {
    Database db(dir.file("a.db"));
    prepare_database(db, SyncMode::normal);
    FAIL() << "garbage was accepted";
  } catch (const SqliteError& e) {
    EXPECT_TRUE(e.is_corrupt()) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.file("a.db")), std::string::npos) << e.what();
  }
}

TEST(Schema, QuickCheckCatchesADamagedPage) {
  TempDir dir;
  {
    Database db(dir.file("a.db"));
    prepare_database(db, SyncMode::normal);
    DocumentStore docs(db);
    Transaction tx(db);
    for (int i = 0; i < 2000; ++i) {
      docs.set_local_view("c", "doc" + std::to_string(i), std::string(200, 'x'), i);
    }
    tx.commit();
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.exec("PRAGMA journal_mode=DELETE");
  }
  {
    // Overwrite the middle of the file (past the header page) with garbage.
    std::fstream f(dir.file("a.db"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 * 20 + 100);
    std::string junk(3000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  Database db(dir.file("a.db"));
  EXPECT_THROW(prepare_database(db, SyncMode::normal), SqliteError);
}

}  // namespace
}  // namespace syncd
