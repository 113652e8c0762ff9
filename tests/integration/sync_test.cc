// The sync engine end to end: syncd, the reference server and the fault proxy as real
// processes. Invariants 2 (exactly once) and 3 (per-document order) are checked on the
// server's log of applied mutations.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include <map>
#include <set>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

constexpr const char* kFastConfig = R"({
  "backoff": {"initial_ms": 20, "factor": 2, "max_ms": 300},
  "breaker": {"failure_threshold": 5, "cooldown_ms": 100},
  "http": {"connect_timeout_ms": 500, "timeout_ms": 1500, "low_speed_time_s": 2},
  "sync": {"batch_size": 100, "pull_interval_s": 1}
})";

struct Applied {
  std::string id;
  std::string doc_id;
};

std::vector<Applied> applied_log(const RefServer& server) {
  std::vector<Applied> out;
  HttpResult r = http_get(server.url() + "/admin/applied");
  JsonDocument doc;
  if (r.status != 200 || parse_json(r.body, doc)) return out;
  for (const auto& a : doc["applied"].GetArray()) {
    out.push_back({a["id"].GetString(), a["doc_id"].GetString()});
  }
  return out;
}

// Mutation ids by document, in the order the client made them.
using Written = std::map<std::string, std::vector<std::string>>;

void expect_exactly_once_in_order(const std::vector<Applied>& applied, const Written& written) {
  std::set<std::string> seen;
  std::map<std::string, std::vector<std::string>> order;
  for (const auto& a : applied) {
    EXPECT_TRUE(seen.insert(a.id).second) << "applied twice: " << a.id;
    order[a.doc_id].push_back(a.id);
  }
  size_t expected = 0;
  for (const auto& [doc, ids] : written) {
    expected += ids.size();
    EXPECT_EQ(order[doc], ids) << "order of " << doc;
  }
  EXPECT_EQ(seen.size(), expected);
}

std::string put(Client& client, const std::string& collection, const std::string& id,
                const std::string& data, const char* method = "put") {
  JsonDocument r = client.call(
      method, R"({"collection":")" + collection + R"(","id":")" + id + R"(","data":)" + data + "}");
  if (!r.IsObject() || !r.HasMember("result")) return "";
  return r["result"]["mutation_id"].GetString();
}

// Puts the document the first time and patches it after; records the mutation id.
std::string write(Client& client, const std::string& collection, const std::string& id,
                  const std::string& data, Written& written) {
  std::string mid = put(client, collection, id, data, written.count(id) ? "patch" : "put");
  if (!mid.empty()) written[id].push_back(mid);
  return mid;
}

std::string connectivity(Client& client) {
  JsonDocument s = client.call("status");
  if (!s.IsObject() || !s.HasMember("result")) return "";
  return s["result"]["connectivity"].GetString();
}

int64_t pending(Client& client) {
  JsonDocument s = client.call("status");
  if (!s.IsObject() || !s.HasMember("result")) return -1;
  const auto& q = s["result"]["queue"];
  return q["pending"].GetInt64() + q["inflight"].GetInt64();
}

TEST(Sync, WritesMadeOfflineArriveExactlyOnceInOrder) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  FaultProxy proxy(dir, server.port());
  ASSERT_TRUE(proxy.start());
  ASSERT_EQ(proxy.command("refuse"), "ok refuse");
  Syncd syncd(dir, kFastConfig, {}, proxy.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  Written written;
  // 1,000 mutations: 250 documents each put then patched three times.
  for (int round = 0; round < 4; ++round) {
    for (int d = 0; d < 250; ++d) {
      std::string id = "doc" + std::to_string(d);
      std::string mid =
          round == 0 ? put(client, "notes", id, R"({"v":0})")
                     : put(client, "notes", id, R"({"v":)" + std::to_string(round) + "}", "patch");
      ASSERT_FALSE(mid.empty());
      written[id].push_back(mid);
    }
  }
  EXPECT_EQ(pending(client), 1000);
  EXPECT_TRUE(applied_log(server).empty());
  JsonDocument status = client.call("status");
  EXPECT_STREQ(status["result"]["connectivity"].GetString(), "offline");

  ASSERT_EQ(proxy.command("pass"), "ok pass");
  ASSERT_TRUE(wait_until([&] { return pending(client) == 0; }, Millis(60000))) << syncd.log();
  expect_exactly_once_in_order(applied_log(server), written);
  JsonDocument got = client.call("get", R"({"collection":"notes","id":"doc7"})");
  EXPECT_EQ(to_json(got["result"]["data"]), R"({"v":3})");
  EXPECT_FALSE(got["result"]["pending"].GetBool());
  EXPECT_FALSE(got["result"]["version"].IsNull());
  status = client.call("status");
  EXPECT_STREQ(status["result"]["connectivity"].GetString(), "online");
  EXPECT_FALSE(status["result"]["last_push"].IsNull());
}

TEST(Sync, FiftyNetworkFlapsDuringReplayStillApplyEachMutationOnce) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  FaultProxy proxy(dir, server.port());
  ASSERT_TRUE(proxy.start());
  ASSERT_EQ(proxy.command("refuse"), "ok refuse");
  // Small batches and a slow server: replay takes long enough to be broken 50 times.
  Syncd syncd(dir, R"({
    "backoff": {"initial_ms": 20, "max_ms": 200},
    "breaker": {"failure_threshold": 5, "cooldown_ms": 50},
    "http": {"connect_timeout_ms": 500, "timeout_ms": 1000, "low_speed_time_s": 1},
    "sync": {"batch_size": 10, "max_inflight": 2}})",
              {}, proxy.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  ASSERT_EQ(http_post(server.url() + "/admin/faults", R"({"delay_ms": 20})").status, 200);
  Client client(syncd.socket());
  Written written;
  for (int i = 0; i < 3000; ++i) {
    std::string id = "d" + std::to_string(i % 300);
    ASSERT_FALSE(write(client, "flap", id, R"({"i":)" + std::to_string(i) + "}", written).empty());
  }
  // Lost answers are the interesting case: the server applied a push whose answer the
  // client never saw, so the resend must be answered from the dedupe table.
  ASSERT_EQ(http_post(server.url() + "/admin/faults", R"({"drop_mid_body": 10})").status, 200);
  const char* faults[] = {"cut", "reset_after 200", "blackhole", "refuse", "reset_after 1500"};
  // The server's version counter (in /v1/health) counts applied mutations: a cheap
  // progress probe, unlike the full applied log.
  auto server_version = [&] {
    JsonDocument health;
    HttpResult r = http_get(server.url() + "/v1/health");
    if (r.status != 200 || parse_json(r.body, health)) return std::string();
    return std::string(health["version"].GetString());
  };
  std::string last_version = server_version();
  int flaps_during_replay = 0;
  for (int flap = 0; flap < 50; ++flap) {
    ASSERT_EQ(proxy.command("pass"), "ok pass");
    // Let some traffic through, then break the link again.
    wait_until([&] { return server_version() != last_version || pending(client) == 0; },
               Millis(5000));
    last_version = server_version();
    if (pending(client) > 0) ++flaps_during_replay;
    proxy.command(faults[flap % 5]);
  }
  EXPECT_GE(flaps_during_replay, 40) << "the flaps must hit a replay in progress";
  ASSERT_EQ(proxy.command("pass"), "ok pass");
  client.call("sync.now");
  ASSERT_TRUE(wait_until([&] { return pending(client) == 0; }, Millis(90000))) << syncd.log();
  expect_exactly_once_in_order(applied_log(server), written);
}

TEST(Sync, KillNineDuringReplayTwentyTimesStillAppliesEachMutationOnce) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  // Slow answers widen the window in which a push is applied but not yet acknowledged.
  ASSERT_EQ(http_post(server.url() + "/admin/faults", R"({"delay_ms": 30})").status, 200);
  Syncd syncd(dir, kFastConfig, {}, server.url());
  Written written;
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(syncd.start()) << "round " << round << "\n" << syncd.log();
    Client client(syncd.socket());
    for (int i = 0; i < 60; ++i) {
      std::string id = "k" + std::to_string((round * 60 + i) % 97);
      ASSERT_FALSE(
          write(client, "kill", id, R"({"r":)" + std::to_string(round) + "}", written).empty());
    }
    // Kill once replay is under way (something applied since this round began).
    const size_t before = applied_log(server).size();
    wait_until([&] { return applied_log(server).size() > before; }, Millis(5000));
    syncd.kill9();
  }
  ASSERT_EQ(http_post(server.url() + "/admin/faults", R"({"reset": true})").status, 200);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  ASSERT_TRUE(wait_until([&] { return pending(client) == 0; }, Millis(60000))) << syncd.log();
  expect_exactly_once_in_order(applied_log(server), written);
}

TEST(Sync, RetryAfterIsHonoured) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  Syncd syncd(dir, kFastConfig, {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  ASSERT_TRUE(wait_until([&] { return connectivity(client) == "online"; }, Millis(10000)));
  for (int status : {503, 429}) {
    ASSERT_EQ(http_post(server.url() + "/admin/faults",
                        R"({"status": )" + std::to_string(status) +
                            R"(, "count": 1, "retry_after": "2", "path": "/v1/push"})")
                  .status,
              200);
    const size_t before = applied_log(server).size();
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_FALSE(put(client, "ra", "doc" + std::to_string(status), "{}").empty());
    ASSERT_TRUE(wait_until([&] { return applied_log(server).size() > before; }, Millis(15000)));
    auto waited = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - t0);
    // With backoff starting at 20 ms, only Retry-After explains a wait of 2 s.
    EXPECT_GE(waited.count(), 1900) << "HTTP " << status << " Retry-After: 2 was not honoured";
    JsonDocument s = client.call("status");
    EXPECT_NE(std::string(s["result"]["last_error"].GetString()).find(std::to_string(status)),
              std::string::npos);
    EXPECT_TRUE(s["result"]["last_error_at"].IsString());  // and when
  }
}

TEST(Sync, AHungServerDoesNotStallLocalReadsAndWrites) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  FaultProxy proxy(dir, server.port());
  ASSERT_TRUE(proxy.start());
  ASSERT_EQ(proxy.command("blackhole"), "ok blackhole");
  // Requests hang for 30 s before timing out.
  Syncd syncd(dir, R"({"http": {"timeout_ms": 30000, "connect_timeout_ms": 30000}})", {},
              proxy.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(put(client, "hung", "d" + std::to_string(i), R"({"i":1})").empty());
    JsonDocument got =
        client.call("get", R"({"collection":"hung","id":"d)" + std::to_string(i) + "\"}");
    ASSERT_TRUE(got.HasMember("result"));
  }
  auto took = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - t0);
  EXPECT_LT(took.count(), 25000) << "local calls waited for the hung remote";
  EXPECT_EQ(pending(client), 100);
}

TEST(Sync, ConflictStrategiesBetweenTwoDaemons) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  FaultProxy proxy(dir, server.port());  // in front of B only
  ASSERT_TRUE(proxy.start());
  Syncd a(dir, kFastConfig, {}, server.url(), "a-");
  std::string b_config = R"({
    "backoff": {"initial_ms": 20, "max_ms": 300},
    "sync": {"pull_interval_s": 1},
    "conflicts": {"strategy": "merge", "merge_tiebreak": "local", "collections": {
      "s": {"strategy": "server_wins"}, "c": {"strategy": "client_wins"},
      "x": {"strategy": "manual"}, "r": {"strategy": "merge", "merge_tiebreak": "remote"}}}
  })";
  Syncd b(dir, b_config, {}, proxy.url(), "b-");
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  Client ca(a.socket());
  Client cb(b.socket());
  auto data_of = [](Client& c, const std::string& coll) {
    JsonDocument g = c.call("get", R"({"collection":")" + coll + R"(","id":"x"})");
    return g.HasMember("result") ? to_json(g["result"]["data"]) : std::string("missing");
  };
  auto synced = [](Client& c, const std::string& coll, const std::string& want) {
    return wait_until(
        [&] {
          c.call("sync.now");
          JsonDocument g = c.call("get", R"({"collection":")" + coll + R"(","id":"x"})");
          return g.HasMember("result") && !g["result"]["pending"].GetBool() &&
                 to_json(g["result"]["data"]) == want;
        },
        Millis(20000));
  };
  const std::vector<std::string> collections = {"m", "s", "c", "x", "r"};
  // A creates each document; B pulls it.
  for (const auto& coll : collections) {
    ASSERT_FALSE(put(ca, coll, "x", R"({"a":1,"b":1,"t":"base"})").empty());
    ASSERT_TRUE(synced(ca, coll, R"({"a":1,"b":1,"t":"base"})"));
    ASSERT_TRUE(synced(cb, coll, R"({"a":1,"b":1,"t":"base"})")) << b.log();
  }
  // B goes offline (no new connections, the open ones cut) and edits; A edits the same
  // documents online.
  ASSERT_EQ(proxy.command("refuse"), "ok refuse");
  ASSERT_EQ(proxy.command("cut"), "ok refuse");
  for (const auto& coll : collections) {
    ASSERT_FALSE(put(cb, coll, "x", R"({"b":2,"t":"from b"})", "patch").empty());
    ASSERT_FALSE(put(ca, coll, "x", R"({"a":2,"t":"from a"})", "patch").empty());
    ASSERT_TRUE(synced(ca, coll, R"({"a":2,"b":1,"t":"from a"})"))
        << to_json(ca.call("get", R"({"collection":")" + coll + R"(","id":"x"})")) << "\n"
        << to_json(ca.call("status")) << "\n"
        << to_json(ca.call("queue.list"));
  }
  ASSERT_EQ(proxy.command("pass"), "ok pass");
  // merge, local tiebreak: both fields kept, B wins the field both changed.
  EXPECT_TRUE(synced(cb, "m", R"({"a":2,"b":2,"t":"from b"})")) << data_of(cb, "m");
  // merge, remote tiebreak.
  EXPECT_TRUE(synced(cb, "r", R"({"a":2,"b":2,"t":"from a"})")) << data_of(cb, "r");
  // server_wins: B's edit is dropped.
  EXPECT_TRUE(synced(cb, "s", R"({"a":2,"b":1,"t":"from a"})")) << data_of(cb, "s");
  // client_wins: B's patch is applied again on top of A's version.
  EXPECT_TRUE(synced(cb, "c", R"({"a":2,"b":2,"t":"from b"})")) << data_of(cb, "c");
  // manual: kept as a conflict until resolved.
  ASSERT_TRUE(
      wait_until([&] { return cb.call("status")["result"]["queue"]["conflict"].GetInt() == 1; },
                 Millis(20000)));
  JsonDocument conflicts = cb.call("conflicts.list");
  ASSERT_EQ(conflicts["result"]["items"].Size(), 1u);
  std::string conflict_id = conflicts["result"]["items"][0]["id"].GetString();
  JsonDocument resolved =
      cb.call("conflicts.resolve", R"({"id":")" + conflict_id + R"(","take":"local"})");
  ASSERT_TRUE(resolved.HasMember("result")) << to_json(resolved);
  EXPECT_TRUE(synced(cb, "x", R"({"a":2,"b":2,"t":"from b"})")) << data_of(cb, "x");
  // A sees every outcome.
  EXPECT_TRUE(synced(ca, "m", R"({"a":2,"b":2,"t":"from b"})"));
  EXPECT_TRUE(synced(ca, "s", R"({"a":2,"b":1,"t":"from a"})"));
  // Every resolution is on record with both sides.
  JsonDocument all = cb.call("conflicts.list", R"({"all":true})");
  std::set<std::string> outcomes;
  for (const auto& r : all["result"]["items"].GetArray()) {
    outcomes.insert(r["outcome"].GetString());
    EXPECT_FALSE(r["remote"].IsNull());
  }
  EXPECT_EQ(outcomes, (std::set<std::string>{"merged", "server_wins", "client_wins", "manual",
                                             "manual_resolved"}));
  CommandResult table = run_command({syncctl_bin(), "--socket", b.socket(), "conflicts", "--all"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("server_wins"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("manual_resolved"), std::string::npos) << table.out;
}

TEST(Sync, ANetlinkEventEndsTheOfflineWaitAtOnce) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to change a loopback address";
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  FaultProxy proxy(dir, server.port());
  ASSERT_TRUE(proxy.start());
  ASSERT_EQ(proxy.command("refuse"), "ok refuse");
  // Probes back off uniformly within a whole minute once the first one fails.
  Syncd syncd(dir, R"({"backoff": {"initial_ms": 60000, "factor": 1, "max_ms": 60000}})", {},
              proxy.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  ASSERT_TRUE(wait_until([&] { return !client.call("status")["result"]["last_error"].IsNull(); },
                         Millis(10000)));
  ASSERT_EQ(proxy.command("pass"), "ok pass");
  if (std::system("ip addr add 127.0.0.78/32 dev lo 2>/dev/null") != 0) {
    GTEST_SKIP() << "cannot change addresses here";
  }
  std::system("ip addr del 127.0.0.78/32 dev lo 2>/dev/null");
  EXPECT_TRUE(wait_until([&] { return connectivity(client) == "online"; }, Millis(5000)))
      << "still offline: the route event did not trigger a probe\n"
      << syncd.log();
}

TEST(Sync, ServerSentEventsBringRemoteChangesWithoutWaitingForThePullInterval) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  const std::string config = R"({"sync": {"pull_interval_s": 3600}})";
  Syncd a(dir, config, {}, server.url(), "a-");
  Syncd b(dir, config, {}, server.url(), "b-");
  ASSERT_TRUE(a.start()) << a.log();
  ASSERT_TRUE(b.start()) << b.log();
  Client ca(a.socket());
  Client cb(b.socket());
  ASSERT_TRUE(cb.call("subscribe", R"({"collection":"live"})").HasMember("result"));
  // B's first pull (at start) is done and its event stream open once it is online.
  ASSERT_TRUE(wait_until([&] { return !cb.call("status")["result"]["last_pull"].IsNull(); },
                         Millis(10000)));
  ASSERT_FALSE(put(ca, "live", "d1", R"({"hello":"b"})").empty());
  // B hears of it through /v1/events, pulls, and tells its subscriber.
  std::optional<std::string> note;
  auto deadline = std::chrono::steady_clock::now() + Millis(10000);
  while (std::chrono::steady_clock::now() < deadline) {
    note = cb.read_line(Millis(500));
    if (note && note->find("\"method\":\"change\"") != std::string::npos) break;
  }
  ASSERT_TRUE(note) << b.log();
  EXPECT_NE(note->find(R"("data":{"hello":"b"},"origin":"remote")"), std::string::npos) << *note;
  JsonDocument got = cb.call("get", R"({"collection":"live","id":"d1"})");
  EXPECT_EQ(to_json(got["result"]["data"]), R"({"hello":"b"})");
}

std::string auth_config(const RefServer& server, const std::string& token,
                        const std::string& refresh_token) {
  return R"({"backoff": {"initial_ms": 20, "max_ms": 200},
             "auth": {"token": ")" +
         token + R"(", "token_url": ")" + server.url() + R"(/oauth/token", "refresh_token": ")" +
         refresh_token + R"("}})";
}

TEST(Sync, A401RefreshesTheTokenOnceAndTheWritesGoThrough) {
  TempDir dir;
  RefServer server(dir, {"--token", "initial", "--refresh-token", "r3fresh"});
  ASSERT_TRUE(server.start()) << server.log();
  // syncd starts with a token the server no longer accepts.
  Syncd syncd(dir, auth_config(server, "expired", "r3fresh"), {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  Written written;
  for (int i = 0; i < 20; ++i) {
    std::string id = "d" + std::to_string(i);
    written[id].push_back(put(client, "auth", id, "{}"));
  }
  ASSERT_TRUE(wait_until([&] { return pending(client) == 0; }, Millis(20000)))
      << to_json(client.call("status")) << "\n"
      << server.log();
  expect_exactly_once_in_order(applied_log(server), written);
  JsonDocument grants;
  ASSERT_FALSE(parse_json(http_get(server.url() + "/admin/grants").body, grants));
  EXPECT_EQ(grants["grants"].GetInt(), 1) << "one refresh, not one per request";
  EXPECT_STREQ(client.call("status")["result"]["auth"].GetString(), "ok");
}

TEST(Sync, ARefusedRefreshTokenShowsAuthFailedAndKeepsTheWrites) {
  TempDir dir;
  RefServer server(dir, {"--token", "initial", "--refresh-token", "r3fresh"});
  ASSERT_TRUE(server.start()) << server.log();
  Syncd syncd(dir, auth_config(server, "expired", "wrong"), {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  ASSERT_FALSE(put(client, "auth", "kept", "{}").empty());
  ASSERT_TRUE(wait_until(
      [&] {
        JsonDocument s = client.call("status");
        return std::string(s["result"]["auth"].GetString()) == "auth_failed" &&
               !s["result"]["last_error"].IsNull();
      },
      Millis(20000)));
  EXPECT_TRUE(applied_log(server).empty());
  EXPECT_EQ(pending(client), 1) << "the write waits in the queue";
}

TEST(Sync, AGarbledServerAnswerIsRetriedAndNamedInStatus) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  Syncd syncd(dir, kFastConfig, {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  ASSERT_TRUE(wait_until([&] { return connectivity(client) == "online"; }, Millis(10000)));
  // The server applies the next three pushes but answers them with HTML.
  ASSERT_EQ(http_post(server.url() + "/admin/faults", R"({"garbage": 3})").status, 200);
  Written written;
  for (int i = 0; i < 30; ++i) {
    std::string id = "g" + std::to_string(i % 7);
    ASSERT_FALSE(
        write(client, "garbled", id, R"({"i":)" + std::to_string(i) + "}", written).empty());
  }
  ASSERT_TRUE(wait_until([&] { return pending(client) == 0; }, Millis(20000))) << syncd.log();
  expect_exactly_once_in_order(applied_log(server), written);
  // A garbled answer is a retryable failure, not a verdict on the mutations.
  JsonDocument status = client.call("status");
  EXPECT_EQ(status["result"]["queue"]["failed"].GetInt(), 0);
  JsonDocument got = client.call("get", R"({"collection":"garbled","id":"g3"})");
  EXPECT_FALSE(got["result"]["pending"].GetBool());
  EXPECT_FALSE(got["result"]["version"].IsNull());
}

}  // namespace
}  // namespace syncd::testing

namespace syncd::testing {
namespace {

// The server remembers its answer to a mutation id (dedupe), a rejection too: a dead
// letter retried under its old id would only be rejected again, so it goes under a new one.
TEST(Sync, ARejectedWriteRetriedAfterTheServerChangedItsMindIsApplied) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_TRUE(server.hold_pushes());
  Syncd syncd(dir, kFastConfig, {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  JsonDocument put = client.call("put", R"({"collection":"c","id":"x","data":{"v":1}})");
  ASSERT_TRUE(put.HasMember("result")) << to_json(put);
  const std::string id = put["result"]["mutation_id"].GetString();
  ASSERT_TRUE(server.reject({id}, "not yet"));
  client.call("sync.now");
  auto failed = [&] {
    JsonDocument s = client.call("status");
    return s["result"]["queue"]["failed"].GetInt64();
  };
  ASSERT_TRUE(wait_until([&] { return failed() == 1; }, Millis(20000))) << syncd.log();
  ASSERT_EQ(http_post(server.url() + "/admin/faults", R"({"reset": true})").status, 200);
  JsonDocument retried = client.call("queue.retry", R"({"id":")" + id + "\"}");
  ASSERT_TRUE(retried.HasMember("result")) << to_json(retried);
  EXPECT_EQ(retried["result"]["retried"].GetInt64(), 1);
  ASSERT_TRUE(wait_until(
      [&] {
        client.call("sync.now");
        JsonDocument g = client.call("get", R"({"collection":"c","id":"x"})");
        return failed() == 0 && g.HasMember("result") && !g["result"]["pending"].GetBool();
      },
      Millis(20000)))
      << syncd.log();
  const std::string applied = http_get(server.url() + "/admin/applied").body;
  EXPECT_NE(applied.find("\"x\""), std::string::npos) << applied;
  EXPECT_EQ(applied.find(id), std::string::npos) << "applied under its new id, not the old one";
}

}  // namespace
}  // namespace syncd::testing
