// What a kill -9 leaves of the database: the files as the kernel holds them at that
// instant (a copy of syncd.db and syncd.db-wal taken while the connections are still open;
// no -shm, so the copy's first open recovers the WAL, as a start after a kill does). The
// connections are set up as the daemon's are: the loop's at synchronous=FULL with SQLite's
// automatic checkpoint, the applier's at NORMAL with a small cache and its own
// checkpoints, its transactions large enough to spill pages into the WAL and rewrite them.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "store/document_store.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

using testing::TempDir;

// The document's body, shortened for a failure message.
std::string body_of(Database& db, const std::string& id) {
  auto doc = DocumentStore(db).find("c", id);
  if (!doc) return "(absent)";
  return doc->local_data ? *doc->local_data : "(deleted)";
}

std::string integrity_check(Database& db) {
  Statement check(db, "PRAGMA integrity_check");
  std::string result;
  while (check.step()) result += check.column_text(0);
  return result;
}

// The files a kill at this instant leaves, copied into `into`.
void copy_kill_image(const std::string& db_path, const std::string& into) {
  std::filesystem::copy_file(db_path, into + "/syncd.db");
  std::filesystem::copy_file(db_path + "-wal", into + "/syncd.db-wal");
}

struct DaemonLikeConnections {
  explicit DaemonLikeConnections(const std::string& path) : loop(path), applier(path) {
    prepare_database(loop, SyncMode::full);
    applier.exec("PRAGMA synchronous=NORMAL");
    applier.exec("PRAGMA cache_size=-1024");
    sqlite3_wal_autocheckpoint(applier.handle(), 0);
  }
  Database loop;
  Database applier;
};

// One applier transaction: `rows` documents of `bytes`, each written `times` over, so that
// pages spilled from the 1 MiB cache are written into the WAL again before the commit.
void applier_transaction(Database& db, int rows, size_t bytes, int times, char fill) {
  DocumentStore docs(db);
  Transaction tx(db);
  for (int t = 0; t < times; ++t) {
    for (int i = 0; i < rows; ++i) {
      docs.set_local_view("c", "a" + std::to_string(i), std::string(bytes, fill + t), i);
    }
  }
  tx.commit();
}

TEST(KillImage, AnApplierCommitThatSpilledIsInTheFilesWhenItReturns) {
  TempDir dir;
  TempDir image;
  DaemonLikeConnections c(dir.file("syncd.db"));
  applier_transaction(c.applier, 2000, 1500, 3, 'a');
  copy_kill_image(c.loop.path(), image.path());

  Database after(image.file("syncd.db"));
  EXPECT_EQ(integrity_check(after), "ok");
  EXPECT_EQ(after.query_int("SELECT COUNT(*) FROM documents"), 2000);
  EXPECT_TRUE(body_of(after, "a1999") == std::string(1500, 'c'))
      << body_of(after, "a1999").substr(0, 20);
}

TEST(KillImage, TheLoopWritingAndCheckpointingOnTopOfAnApplierCommitLeavesBoth) {
  TempDir dir;
  TempDir image;
  DaemonLikeConnections c(dir.file("syncd.db"));
  {
    DocumentStore docs(c.loop);
    Transaction tx(c.loop);
    docs.set_local_view("c", "first", std::string("1"), 1);
    tx.commit();
  }
  applier_transaction(c.applier, 2000, 1500, 3, 'a');
  {
    DocumentStore docs(c.loop);
    Transaction tx(c.loop);
    docs.set_local_view("c", "loop", std::string("2"), 2);
    tx.commit();
  }
  c.loop.exec("PRAGMA wal_checkpoint(PASSIVE)");
  applier_transaction(c.applier, 500, 900, 2, 'k');
  copy_kill_image(c.loop.path(), image.path());

  Database after(image.file("syncd.db"));
  EXPECT_EQ(integrity_check(after), "ok");
  EXPECT_EQ(after.query_int("SELECT COUNT(*) FROM documents"), 2002);
  EXPECT_EQ(body_of(after, "loop"), "2");
  EXPECT_TRUE(body_of(after, "a499") == std::string(900, 'l'))
      << body_of(after, "a499").substr(0, 20);
  EXPECT_TRUE(body_of(after, "a1999") == std::string(1500, 'c'))
      << body_of(after, "a1999").substr(0, 20);
}

}  // namespace
}  // namespace syncd
