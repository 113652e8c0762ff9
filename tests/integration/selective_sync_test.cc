// Selective sync end to end, two daemons and the reference server: a `local` collection
// never reaches the server, a `pull` collection refuses local writes (read_only) and
// takes the server's, a `push` collection's writes go up while pulled changes to it are
// passed over; and the sync layer says so in its log.
#include <gtest/gtest.h>

#include <csignal>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

constexpr const char* kDeviceA = R"({
  "backoff": {"initial_ms": 20, "factor": 2, "max_ms": 300},
  "sync": {"pull_interval_s": 1, "collections": {
    "ui_state": {"direction": "local"},
    "prices": {"direction": "pull"},
    "audit": {"direction": "push"}}}
})";

constexpr const char* kDeviceB = R"({
  "backoff": {"initial_ms": 20, "factor": 2, "max_ms": 300},
  "sync": {"pull_interval_s": 1}
})";

JsonDocument put(Client& c, const std::string& collection, const std::string& id,
                 const std::string& data) {
  return c.call(
      "put", R"({"collection":")" + collection + R"(","id":")" + id + R"(","data":)" + data + "}");
}

std::string data_of(Client& c, const std::string& collection, const std::string& id) {
  JsonDocument g = c.call("get", R"({"collection":")" + collection + R"(","id":")" + id + "\"}");
  return g.HasMember("result") ? to_json(g["result"]["data"]) : std::string("missing");
}

bool drained(Client& c) {
  return wait_until(
      [&] {
        JsonDocument s = c.call("status");
        return s.HasMember("result") && s["result"]["queue"]["pending"].GetInt64() == 0 &&
               s["result"]["queue"]["inflight"].GetInt64() == 0;
      },
      Millis(20000));
}

TEST(SelectiveSync, EachCollectionSyncsOnlyTheWayItsDirectionSays) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  Syncd a(dir, kDeviceA, {}, server.url(), "a-");
  Syncd b(dir, kDeviceB, {}, server.url(), "b-");
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  Client ca(a.socket());
  Client cb(b.socket());

  ASSERT_TRUE(put(ca, "ui_state", "window", R"({"w":800})").HasMember("result"));
  ASSERT_TRUE(put(ca, "notes", "n", R"({"t":"hi"})").HasMember("result"));
  ASSERT_TRUE(put(ca, "audit", "e1", R"({"who":"a"})").HasMember("result"));
  JsonDocument refused = put(ca, "prices", "p", R"({"eur":1})");
  ASSERT_TRUE(refused.HasMember("error")) << to_json(refused);
  EXPECT_EQ(refused["error"]["code"].GetInt(), -32003);
  EXPECT_STREQ(refused["error"]["data"]["reason"].GetString(), "read_only");
  EXPECT_EQ(data_of(ca, "prices", "p"), "missing") << "nothing of a refused write stays";

  ASSERT_TRUE(drained(ca)) << a.log();
  EXPECT_EQ(data_of(ca, "ui_state", "window"), R"({"w":800})");

  // B sees what A pushed, never the local collection.
  ASSERT_TRUE(wait_until(
      [&] {
        cb.call("sync.now");
        return data_of(cb, "notes", "n") == R"({"t":"hi"})" &&
               data_of(cb, "audit", "e1") == R"({"who":"a"})";
      },
      Millis(20000)))
      << b.log();
  EXPECT_EQ(data_of(cb, "ui_state", "window"), "missing");
  const std::string applied = http_get(server.url() + "/admin/applied").body;
  EXPECT_EQ(applied.find("ui_state"), std::string::npos) << applied;

  // B writes to every collection; A takes prices and notes, passes over audit, and
  // keeps its own ui_state.
  ASSERT_TRUE(put(cb, "prices", "p", R"({"eur":2})").HasMember("result"));
  ASSERT_TRUE(put(cb, "audit", "e2", R"({"who":"b"})").HasMember("result"));
  ASSERT_TRUE(put(cb, "ui_state", "window", R"({"w":1})").HasMember("result"));
  ASSERT_TRUE(put(cb, "notes", "m", R"({"t":"from b"})").HasMember("result"));
  ASSERT_TRUE(drained(cb)) << b.log();
  ASSERT_TRUE(wait_until(
      [&] {
        ca.call("sync.now");
        return data_of(ca, "prices", "p") == R"({"eur":2})" &&
               data_of(ca, "notes", "m") == R"({"t":"from b"})";
      },
      Millis(20000)))
      << a.log();
  EXPECT_EQ(data_of(ca, "audit", "e2"), "missing") << "a push collection ignores pulls";
  EXPECT_EQ(data_of(ca, "ui_state", "window"), R"({"w":800})") << "local stays local";
  EXPECT_NE(a.log().find("sync: online"), std::string::npos) << a.log();
}

TEST(SelectiveSync, ALocalWriteSurvivesAKillAndARestartWithoutBeingQueued) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  Syncd a(dir, kDeviceA, {}, server.url(), "a-");
  ASSERT_TRUE(a.start()) << a.log();
  {
    Client ca(a.socket());
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(put(ca, "ui_state", "k" + std::to_string(i), R"({"i":)" + std::to_string(i) + "}")
                      .HasMember("result"));
    }
  }
  a.kill9();  // the writes may still be in the journal only: replay keeps them local
  ASSERT_TRUE(a.start()) << a.log();
  Client ca(a.socket());
  EXPECT_EQ(data_of(ca, "ui_state", "k49"), R"({"i":49})");
  ASSERT_TRUE(drained(ca)) << a.log();
  JsonDocument s = ca.call("status");
  EXPECT_EQ(s["result"]["queue"]["failed"].GetInt64(), 0);
  const std::string applied = http_get(server.url() + "/admin/applied").body;
  EXPECT_EQ(applied.find("ui_state"), std::string::npos) << applied;
}

// Review (branch review2): queue.retry of a dead letter bypasses the directions. A
// collection made `pull` (local writes refused, read_only) or `local` (never leaves the
// device) by SIGHUP still gets its old dead letters pushed when they are retried: the
// retry goes through retry_dead_letters(), which knows no directions, under a new id the
// server has never seen, so the server applies it.
TEST(SelectiveSync, ReviewARetriedDeadLetterOfANowPullOrLocalCollectionNeverReachesTheServer) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_TRUE(server.hold_pushes());
  Syncd a(dir, R"({"backoff": {"initial_ms": 20, "factor": 2, "max_ms": 200}})", {}, server.url());
  ASSERT_TRUE(a.start()) << a.log();
  Client ca(a.socket());
  JsonDocument p = put(ca, "prices", "p", R"({"eur":1})");
  JsonDocument u = put(ca, "ui_state", "w", R"({"w":800})");
  ASSERT_TRUE(p.HasMember("result") && u.HasMember("result"));
  const std::string pid = p["result"]["mutation_id"].GetString();
  const std::string uid = u["result"]["mutation_id"].GetString();
  ASSERT_TRUE(server.reject({pid, uid}, "no"));
  ca.call("sync.now");
  ASSERT_TRUE(wait_until(
      [&] {
        JsonDocument s = ca.call("status");
        return s.HasMember("result") && s["result"]["queue"]["failed"].GetInt64() == 2;
      },
      Millis(20000)))
      << a.log();

  write_file(a.config_path(), R"({"backoff": {"initial_ms": 20, "factor": 2, "max_ms": 200},
    "sync": {"collections": {"prices": {"direction": "pull"}, "ui_state": {"direction": "local"}}}})");
  a.process()->signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] { return a.log().find("SIGHUP: sync.collections") != std::string::npos; }, Millis(10000)))
      << a.log();
  JsonDocument w = put(ca, "prices", "q", R"({"eur":1})");
  ASSERT_TRUE(w.HasMember("error")) << "prices is pull-only now: " << to_json(w);

  ca.call("queue.retry", R"({"all":true})");
  ca.call("sync.now");
  ASSERT_TRUE(drained(ca)) << a.log();
  const std::string applied = http_get(server.url() + "/admin/applied").body;
  EXPECT_EQ(applied.find("\"prices\""), std::string::npos)
      << "a pull-only collection's write: " << applied;
  EXPECT_EQ(applied.find("\"ui_state\""), std::string::npos)
      << "a local collection's write: " << applied;
}

}  // namespace
}  // namespace syncd::testing
