#include "store/schema.h"

#include <gtest/gtest.h>

#include <fstream>

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
