// Protocol v1's status rules, and what its requests carry.
#include "sync/v1/v1_protocol.h"

#include <gtest/gtest.h>

#include "tests/sync/fakes/held_transport.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

HttpResponse status(int code, std::string body = "", std::map<std::string, std::string> h = {}) {
  HttpResponse r;
  r.status = code;
  r.body = std::move(body);
  r.headers = std::move(h);
  return r;
}

TEST(V1Protocol, EachStatusIsOkRetryableRejectedOrUnauthorised) {
  struct Case {
    int status;
    AnswerKind kind;
  } cases[] = {
      {200, AnswerKind::ok},           {302, AnswerKind::retryable},
      {400, AnswerKind::rejected},     {401, AnswerKind::unauthorised},
      {403, AnswerKind::unauthorised}, {404, AnswerKind::retryable},
      {405, AnswerKind::retryable},    {407, AnswerKind::retryable},
      {408, AnswerKind::retryable},    {409, AnswerKind::rejected},
      {410, AnswerKind::retryable},    {413, AnswerKind::rejected},
      {422, AnswerKind::rejected},     {425, AnswerKind::retryable},
      {429, AnswerKind::retryable},    {500, AnswerKind::retryable},
      {503, AnswerKind::retryable},    {600, AnswerKind::retryable},
      {101, AnswerKind::retryable},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(classify_v1(status(c.status), "push", 0).kind, c.kind) << c.status;
  }
  EXPECT_TRUE(classify_v1(status(401), "push", 0).refresh_may_help);
  EXPECT_FALSE(classify_v1(status(403), "push", 0).refresh_may_help);
}

TEST(V1Protocol, AnAnswerNamesItselfAndCarriesRetryAfter) {
  Answer busy = classify_v1(status(503, "later", {{"retry-after", "120"}}), "pull", 0);
  EXPECT_EQ(busy.error, "pull answered HTTP 503: later");
  EXPECT_EQ(busy.retry_after_ms, 120000);
  Answer redirect = classify_v1(status(302, "", {{"location", "http://portal/"}}), "push", 0);
  EXPECT_NE(redirect.error.find("a redirect to http://portal/"), std::string::npos)
      << redirect.error;
  HttpResponse refused;
  refused.error = "connect to 127.0.0.1:1 refused";
  refused.connect_failed = true;
  Answer gone = classify_v1(refused, "push", 0);
  EXPECT_EQ(gone.kind, AnswerKind::retryable);
  EXPECT_TRUE(gone.unreachable);
  EXPECT_EQ(gone.error, "push failed: connect to 127.0.0.1:1 refused");
}

class V1ProtocolRequests : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("v.db"));
  testing::HeldTransport http_;
  FakeClock clock_{1'800'000'000'000};
  Credentials credentials_{http_, *db_, clock_, CredentialSettings{"tok", "", "", "", "", "", ""}};
  V1Protocol v1_{http_, credentials_, clock_, V1Settings{"http://h", "dev", 50, 64}};
};

TEST_F(V1ProtocolRequests, APullAsksForTheFilteredCollectionsFromTheCursor) {
  v1_.pull("17", {"notes", "a b,c"}, [](PullAnswer) {});
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_EQ(http_.pending[0].request.url,
            "http://h/v1/pull?cursor=17&limit=50&collections=notes,a%20b%2Cc");
  EXPECT_EQ(http_.pending[0].request.headers,
            std::vector<std::string>{"Authorization: Bearer tok"});
  v1_.pull("0", {}, [](PullAnswer) {});
  EXPECT_EQ(http_.pending[1].request.url, "http://h/v1/pull?cursor=0&limit=50");
}

TEST_F(V1ProtocolRequests, APushAnswerOfTheWrongShapeIsRetryableAndAppliesNothing) {
  Mutation m;
  m.id = "m1";
  m.collection = "c";
  m.doc_id = "a";
  m.payload = "{}";
  std::optional<PushAnswer> got;
  v1_.push({m}, [&](PushAnswer a) { got = std::move(a); });
  http_.pending[0].done(
      status(200, R"({"results":[{"id":"other","status":"applied","version":"1"}]})"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::retryable);
  EXPECT_TRUE(got->results.empty());
  EXPECT_EQ(got->error, "invalid push answer: a result for unknown mutation other");
  got.reset();
  v1_.push({m}, [&](PushAnswer a) { got = std::move(a); });
  http_.pending[1].done(
      status(200, R"({"results":[{"id":"m1","status":"applied","version":"9"}]})"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::ok);
  ASSERT_EQ(got->results.size(), 1u);
  EXPECT_EQ(got->results[0].version, "9");
}

TEST_F(V1ProtocolRequests, AHealthCheckOrPullNeverRejectsContent) {
  std::optional<Answer> health;
  v1_.health([&](Answer a) { health = std::move(a); });
  http_.pending[0].done(status(400, "bad"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->kind, AnswerKind::retryable);
  EXPECT_EQ(health->error, "health check answered HTTP 400: bad");
  std::optional<PullAnswer> pull;
  v1_.pull("0", {}, [&](PullAnswer a) { pull = std::move(a); });
  http_.pending[1].done(status(422, "no"));
  ASSERT_TRUE(pull);
  EXPECT_EQ(pull->kind, AnswerKind::retryable);
  EXPECT_EQ(pull->error, "pull answered HTTP 422: no");
}

}  // namespace
}  // namespace syncd
