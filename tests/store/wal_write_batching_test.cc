#include "store/wal_write_batching.h"

#include <gtest/gtest.h>

#include "store/document_store.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

// Writes `rows` documents of `bytes` each in one transaction through the batching VFS.
void write_rows(Database& db, int first, int rows, size_t bytes) {
  DocumentStore docs(db);
  Transaction tx(db);
  for (int i = first; i < first + rows; ++i) {
    docs.set_local_view("c", "doc" + std::to_string(i), std::string(bytes, 'a' + i % 26), i);
  }
  tx.commit();
}

TEST(WalWriteBatching, LargeCommitsSpillsAndCheckpointsReadBackThroughTheDefaultVfs) {
  testing::TempDir dir;
  {
    Database db(dir.file("b.db"), wal_write_batching_vfs());
    prepare_database(db, SyncMode::full);
    db.exec("PRAGMA cache_size=16");  // tiny cache: pages spill into the WAL mid-transaction
    write_rows(db, 0, 3000, 700);     // ~2 MiB in one commit, well past one write call
    write_rows(db, 3000, 1, 10);      // a small commit after a large one
    DocumentStore docs(db);
    // Reading spilled pages back inside the same connection sees what was written.
    EXPECT_EQ(docs.find("c", "doc1234")->local_data->size(), 700u);
    db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    write_rows(db, 4000, 500, 300);  // the WAL restarts from its beginning after a checkpoint
  }
  Database plain(dir.file("b.db"));
  prepare_database(plain, SyncMode::normal);
  EXPECT_EQ(plain.query_int("SELECT COUNT(*) FROM documents"), 3501);
  Statement check(plain, "PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.column_text(0), "ok");
  check.reset();
  DocumentStore docs(plain);
  EXPECT_EQ(*docs.find("c", "doc2999")->local_data, std::string(700, 'a' + 2999 % 26));
  EXPECT_EQ(*docs.find("c", "doc4499")->local_data, std::string(300, 'a' + 4499 % 26));
}

TEST(WalWriteBatching, ARolledBackTransactionLeavesNothing) {
  testing::TempDir dir;
  Database db(dir.file("r.db"), wal_write_batching_vfs());
  prepare_database(db, SyncMode::full);
  db.exec("PRAGMA cache_size=16");
  write_rows(db, 0, 10, 100);
  {
    DocumentStore docs(db);
    Transaction tx(db);
    for (int i = 100; i < 2100; ++i)
      docs.set_local_view("c", "x" + std::to_string(i), std::string(500, 'z'), i);
    // no commit
  }
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM documents"), 10);
  write_rows(db, 10, 10, 100);
  EXPECT_EQ(db.query_int("SELECT COUNT(*) FROM documents"), 20);
}

}  // namespace
}  // namespace syncd
