// Push answers no honest v1 server gives: a redirect, results that do not match the
// mutations sent, bodies that are not the answer's shape. Each is a retryable failure
// named in status, with backoff; nothing is dead-lettered, dropped or applied twice.
#include <set>

#include "tests/hostile/hostile_fixture.h"

namespace syncd::testing {
namespace {

class PushAnswers : public HostileTest {
 protected:
  // Writes 30 documents against `script`, waits for `error` in status, checks the
  // backoff and that the writes are kept, then recovers on the reference server.
  void expect_retried_with_backoff(const std::string& script, const std::string& error) {
    start(script);
    write_documents(30);
    EXPECT_TRUE(wait_for_error(error)) << "last_error: " << last_error();
    EXPECT_LE(requests_during("/v1/push", Millis(2000)), kMaxRequestsIn2s);
    EXPECT_STRNE(status()["result"]["connectivity"].GetString(), "online");
    recover();
  }
};

TEST_F(PushAnswers, ARedirectIsARetryableFailureAndIsNotFollowed) {
  expect_retried_with_backoff(
      R"({"push": {"mode": "fixed", "status": 302, "headers": {"Location": "self"}}})",
      "HTTP 302 (a redirect to http://127.0.0.1:");
}

TEST_F(PushAnswers, EmptyResultsAreAFailureWithBackoff) {
  expect_retried_with_backoff(R"({"push": {"mode": "results", "kind": "empty"}})", "no result for");
}

TEST_F(PushAnswers, ResultsForUnknownIdsAreAFailureWithBackoff) {
  expect_retried_with_backoff(R"({"push": {"mode": "results", "kind": "unknown"}})",
                              "unknown mutation");
}

TEST_F(PushAnswers, MissingResultsAreAFailureWithBackoff) {
  expect_retried_with_backoff(R"({"push": {"mode": "results", "kind": "missing"}})",
                              "no result for");
}

TEST_F(PushAnswers, ExtraResultsAreAFailureWithBackoff) {
  expect_retried_with_backoff(R"({"push": {"mode": "results", "kind": "extra"}})",
                              "unknown mutation");
}

TEST_F(PushAnswers, TwoResultsForOneMutationAreAFailureWithBackoff) {
  expect_retried_with_backoff(R"({"push": {"mode": "results", "kind": "duplicate"}})",
                              "two results for");
}

TEST_F(PushAnswers, AVersionThatIsNotADecimalIntegerIsRefused) {
  expect_retried_with_backoff(R"({"push": {"mode": "results", "kind": "bad_version"}})",
                              "version \"abc\"");
}

TEST_F(PushAnswers, TruncatedJsonIsAFailureWithBackoff) {
  expect_retried_with_backoff(
      R"({"push": {"mode": "fixed", "body": "{\"results\": [{\"id\": \"01"}})", "not JSON");
}

TEST_F(PushAnswers, WrongTypesAreAFailureWithBackoff) {
  expect_retried_with_backoff(R"({"push": {"mode": "fixed", "body": "{\"results\": {\"a\": 1}}"}})",
                              "no results array");
}

TEST_F(PushAnswers, AnHtmlPageWith200IsAFailureAndItsBytesDoNotBreakStatus) {
  // Invalid UTF-8 and control bytes in the page: status must still be valid JSON.
  expect_retried_with_backoff(
      R"({"push": {"mode": "fixed", "headers": {"Content-Type": "text/html"},
                   "body_hex": "3c68746d6c3eff fe 00 1b 5b 33 31 6d 3c2f68746d6c3e"}})",
      "not JSON");
}

TEST_F(PushAnswers, AnErrorPageOfBinaryBytesDoesNotBreakStatusOrTheQueue) {
  // Its excerpt goes into last_error and each mutation's error: valid UTF-8 only.
  expect_retried_with_backoff(
      R"({"push": {"mode": "fixed", "status": 503, "body_hex": "3c623eff fe c0 af 00 1b 5b 33 31 6d"}})",
      "HTTP 503");
  JsonDocument queued = client_->call("queue.list", R"({"limit":1})");
  EXPECT_TRUE(queued.HasMember("result")) << "queue.list answers with valid JSON";
}

TEST_F(PushAnswers, A404ForEveryPushIsNotADeadLetterForEveryMutation) {
  expect_retried_with_backoff(R"({"push": {"mode": "fixed", "status": 404, "body": "gone"}})",
                              "HTTP 404");
}

// The scenario of issue 8's defects 4 and 5: the server refuses every write, they are
// dead letters (the local view drops them); retried once a good server is there, every
// one arrives exactly once and the local view shows it again, also after a restart.
TEST_F(PushAnswers, ARetriedDeadLetterComesBackToTheLocalView) {
  start(R"({"push": {"mode": "results", "kind": "rejected"}})");
  write_documents(30);
  ASSERT_TRUE(wait_until([&] { return queue_count("failed") == 30; }, Millis(10000)))
      << syncd_->log();
  JsonDocument gone = client_->call("get", R"({"collection":"h","id":"doc3"})");
  EXPECT_STREQ(gone["error"]["data"]["reason"].GetString(), "not_found")
      << "a dead letter leaves the local view";
  // The server's message is kept short and printable.
  JsonDocument failed = client_->call("queue.list", R"({"state":"failed","limit":1})");
  const std::string message = failed["result"]["items"][0]["last_error"].GetString();
  EXPECT_LE(message.size(), 600u);
  EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;

  const int port = hostile_->port();
  hostile_->stop();
  reference_ = std::make_unique<RefServer>(dir_);
  reference_->set_port(port);
  ASSERT_TRUE(reference_->start()) << reference_->log();
  JsonDocument retried = client_->call("queue.retry", R"({"all":true})");
  EXPECT_EQ(retried["result"]["retried"].GetInt64(), 30);
  JsonDocument back = client_->call("get", R"({"collection":"h","id":"doc3"})");
  ASSERT_TRUE(back.HasMember("result")) << "a retried write is in the local view again";
  EXPECT_TRUE(back["result"]["pending"].GetBool());
  ASSERT_TRUE(wait_until(
      [&] {
        client_->call("sync.now");
        return queue_count("pending") == 0 && queue_count("inflight") == 0;
      },
      Millis(20000)))
      << syncd_->log();
  auto check_view = [&] {
    JsonDocument list = client_->call("list", R"({"collection":"h","limit":100})");
    ASSERT_TRUE(list.HasMember("result"));
    EXPECT_EQ(list["result"]["items"].Size(), 30u);
    for (const auto& [id, data] : written_) {
      JsonDocument got = client_->call("get", R"({"collection":"h","id":")" + id + R"("})");
      ASSERT_TRUE(got.HasMember("result")) << id << " " << to_json(got);
      EXPECT_EQ(to_json(got["result"]["data"]), data);
      EXPECT_FALSE(got["result"]["pending"].GetBool());
    }
  };
  check_view();
  HttpResult applied = http_get(reference_->url() + "/admin/applied");
  JsonDocument doc;
  ASSERT_FALSE(parse_json(applied.body, doc));
  // Each write arrived once, under a new mutation id: the hostile server had answered
  // the old ones, and a server remembers its answer to an id (docs/PROTOCOL.md).
  std::multiset<std::string> arrived;
  std::set<std::string> ids;
  for (const auto& a : doc["applied"].GetArray()) {
    arrived.insert(a["doc_id"].GetString());
    ids.insert(a["id"].GetString());
  }
  EXPECT_EQ(arrived.size(), 30u);
  for (const auto& [id, data] : written_) EXPECT_EQ(arrived.count(id), 1u) << id;
  for (const auto& id : mutation_ids_) EXPECT_EQ(ids.count(id), 0u) << id << ": its old id";
  syncd_->stop();
  ASSERT_TRUE(syncd_->start()) << syncd_->log();
  client_ = std::make_unique<Client>(syncd_->socket());
  check_view();
}

}  // namespace
}  // namespace syncd::testing
