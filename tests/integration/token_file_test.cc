// OAuth tokens end to end: a rotated refresh token lives in <state_dir>/token.json (mode
// 0600), survives a restart through it, and is never in the database, not even as
// freed bytes of its file; a token an older syncd kept in the database moves out.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "store/meta_store.h"
#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

std::string oauth_config(const RefServer& server, const std::string& refresh_token) {
  return R"({"backoff": {"initial_ms": 20, "max_ms": 200},
             "auth": {"token": "expired", "token_url": ")" +
         server.url() + R"(/oauth/token", "refresh_token": ")" + refresh_token + R"("}})";
}

bool put_and_sync(Syncd& syncd, const std::string& id) {
  Client client(syncd.socket());
  JsonDocument r = client.call("put", R"({"collection":"t","id":")" + id + R"(","data":{}})");
  if (!r.HasMember("result")) return false;
  return wait_until(
      [&] {
        JsonDocument s = client.call("status");
        return s.HasMember("result") && s["result"]["queue"]["pending"].GetInt64() == 0 &&
               s["result"]["queue"]["inflight"].GetInt64() == 0;
      },
      Millis(20000));
}

int grants(const RefServer& server) {
  JsonDocument doc;
  if (parse_json(http_get(server.url() + "/admin/grants").body, doc)) return -1;
  return doc["grants"].GetInt();
}

// The database files (and any WAL left) hold no trace of `secret`.
void expect_not_in_database(const Syncd& syncd, const std::string& secret) {
  for (const char* name : {"/syncd.db", "/syncd.db-wal"}) {
    EXPECT_EQ(read_file(syncd.state_dir() + name).find(secret), std::string::npos)
        << secret << " in " << name;
  }
  Database db(syncd.state_dir() + "/syncd.db");
  EXPECT_FALSE(MetaStore(db).get("refresh_token"));
}

TEST(TokenFile, ARotatedRefreshTokenLivesInA0600FileAndOutlivesARestart) {
  TempDir dir;
  RefServer server(dir, {"--token", "initial", "--refresh-token", "r0", "--rotate-refresh-token"});
  ASSERT_TRUE(server.start()) << server.log();
  Syncd syncd(dir, oauth_config(server, "r0"), {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  ASSERT_TRUE(put_and_sync(syncd, "a")) << syncd.log();
  EXPECT_EQ(grants(server), 1);
  const std::string file = syncd.state_dir() + "/token.json";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0) << "no " << file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(read_file(file).find("refresh-1"), std::string::npos) << read_file(file);
  ASSERT_EQ(syncd.stop(), 0);
  expect_not_in_database(syncd, "refresh-1");

  // r0 is spent: only the rotated token, from the file, gets a new access token.
  ASSERT_EQ(http_post(server.url() + "/admin/revoke", "{}").status, 200);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  ASSERT_TRUE(put_and_sync(syncd, "b")) << syncd.log();
  EXPECT_EQ(grants(server), 2);
  EXPECT_NE(read_file(file).find("refresh-2"), std::string::npos) << read_file(file);
  ASSERT_EQ(syncd.stop(), 0);
  expect_not_in_database(syncd, "refresh-2");
}

TEST(TokenFile, ARefreshTokenAnOlderSyncdKeptInTheDatabaseMovesToTheFile) {
  TempDir dir;
  RefServer server(
      dir, {"--token", "initial", "--refresh-token", "refresh-7", "--rotate-refresh-token"});
  ASSERT_TRUE(server.start()) << server.log();
  Syncd syncd(dir, oauth_config(server, "r0"), {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  ASSERT_EQ(syncd.stop(), 0);
  {
    Database db(syncd.state_dir() + "/syncd.db");
    Transaction tx(db);
    MetaStore(db).set("refresh_token", "refresh-7");
    tx.commit();
  }
  ASSERT_TRUE(syncd.start()) << syncd.log();
  // The server grants only for refresh-7, so one grant proves the moved token was used;
  // the file then holds what that grant rotated it to (syncd may refresh as it starts,
  // so the file is not read before the sync).
  ASSERT_TRUE(put_and_sync(syncd, "a")) << syncd.log();
  EXPECT_EQ(grants(server), 1) << "refreshed with the moved token";
  EXPECT_NE(read_file(syncd.state_dir() + "/token.json").find("refresh-1"), std::string::npos)
      << read_file(syncd.state_dir() + "/token.json");
  ASSERT_EQ(syncd.stop(), 0);
  expect_not_in_database(syncd, "refresh-7");
}

}  // namespace
}  // namespace syncd::testing
