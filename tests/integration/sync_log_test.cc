// The sync layer's log, read as an operator would: each state change once (offline,
// online), a run of identical failures as one line and then one with the count, every
// request at debug level without a header value or body, each dead letter named.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SyncLog, AThousandFailedProbesAreTwoLinesAndEachStateChangeIsOne) {
  TempDir dir;
  RefServer server(dir, {"--token", "sekrit-token"});
  ASSERT_TRUE(server.start()) << server.log();
  server.stop();  // the port stays known: syncd probes a closed port
  Syncd syncd(dir, R"({"log_level": "debug", "auth": {"token": "sekrit-token"},
                       "backoff": {"initial_ms": 1, "factor": 1.5, "max_ms": 3}})",
              {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  ASSERT_TRUE(wait_until([&] { return count(syncd.log(), "http: GET /v1/health -> ") >= 300; },
                         Millis(30000)))
      << syncd.log();
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_TRUE(wait_until(
      [&] { return syncd.log().find("info: sync: online") != std::string::npos; }, Millis(20000)))
      << syncd.log();
  Client client(syncd.socket());
  ASSERT_TRUE(
      client.call("put", R"({"collection":"c","id":"a","data":{"v":1}})").HasMember("result"));
  ASSERT_TRUE(wait_until(
      [&] { return syncd.log().find("http: POST /v1/push -> 200") != std::string::npos; },
      Millis(20000)))
      << syncd.log();
  const std::string log = syncd.log();
  // A probe with no answer shows libcurl's text alone (docs/ERRORS.md 2.2).
  EXPECT_EQ(count(log, "sync: offline: Failed to connect to 127.0.0.1"), 1u) << log;
  EXPECT_EQ(count(log, "sync: online"), 1u) << log;
  // The failure itself: once when it began, once with the count when it ended.
  EXPECT_EQ(count(log, "warning: sync: Failed to connect to 127.0.0.1"), 2u) << log;
  EXPECT_NE(log.find("times more in the"), std::string::npos) << log;
  EXPECT_EQ(log.find("sekrit"), std::string::npos) << "no header value in the log";
  EXPECT_EQ(log.find("{\"v\":1}"), std::string::npos) << "no body in the log";
}

TEST(SyncLog, ADeadLetterIsNamedWithItsDocumentAndTheServersMessage) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  // Pushes wait (503) until the test has named the mutation to reject.
  ASSERT_TRUE(server.hold_pushes());
  Syncd syncd(dir, R"({"backoff": {"initial_ms": 20, "max_ms": 100}})", {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  JsonDocument put = client.call("put", R"({"collection":"c","id":"doomed","data":{}})");
  ASSERT_TRUE(put.HasMember("result")) << to_json(put);
  const std::string id = put["result"]["mutation_id"].GetString();
  ASSERT_TRUE(server.reject({id}, "the schema forbids it"));
  client.call("sync.now");
  ASSERT_TRUE(
      wait_until([&] { return syncd.log().find("sync: dead letter " + id) != std::string::npos; },
                 Millis(20000)))
      << syncd.log();
  const std::string log = syncd.log();
  EXPECT_NE(log.find("sync: dead letter " + id +
                     " (c/doomed): the server rejected it: "
                     "the schema forbids it"),
            std::string::npos)
      << log;
  EXPECT_EQ(count(log, "sync: dead letter"), 1u) << log;
}

}  // namespace
}  // namespace syncd::testing
