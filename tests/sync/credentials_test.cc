// Credentials: one refresh for every request a 401 refused while it runs, a resend for a
// request that carried an older token, one refresh per run of 401s, a refused answer.
#include "sync/credentials.h"

#include <gtest/gtest.h>

#include "tests/sync/fakes/held_transport.h"
#include "tests/test_support.h"
#include "util/base64.h"

namespace syncd {
namespace {

using testing::HeldTransport;

HttpResponse answer(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

class CredentialsTest : public ::testing::Test {
 protected:
  CredentialsTest() {
    settings_.token = "old";
    settings_.token_url = "http://auth.test/token";
    settings_.refresh_token = "r0";
  }
  std::unique_ptr<Credentials> make() {
    return std::make_unique<Credentials>(http_, *db_, clock_, settings_);
  }
  std::string bearer(Credentials& c) {
    HttpRequest r;
    c.authorise(r);
    return r.headers.empty() ? "" : r.headers.front();
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("c.db"));
  HeldTransport http_;
  FakeClock clock_;
  CredentialSettings settings_;
};

TEST_F(CredentialsTest, RequestsRefusedWhileARefreshRunsAllWaitForThatOne) {
  auto c = make();
  EXPECT_EQ(bearer(*c), "Authorization: Bearer old");
  int told = 0;
  auto done = [&](std::optional<std::string> error) {
    EXPECT_FALSE(error);
    ++told;
  };
  EXPECT_EQ(c->unauthorised(0, done), Credentials::After401::wait_for_refresh);
  EXPECT_EQ(c->unauthorised(0, done), Credentials::After401::wait_for_refresh);
  EXPECT_EQ(c->unauthorised(0, done), Credentials::After401::wait_for_refresh);
  ASSERT_EQ(http_.pending.size(), 1u) << "one refresh, single flight";
  EXPECT_NE(http_.pending.front().request.body.find("refresh_token=r0"), std::string::npos);
  EXPECT_TRUE(c->refreshing());
  http_.pending.front().done(answer(200, R"({"access_token":"new","refresh_token":"r1"})"));
  EXPECT_EQ(told, 3);
  EXPECT_FALSE(c->refreshing());
  EXPECT_EQ(c->generation(), 1u);
  EXPECT_EQ(bearer(*c), "Authorization: Bearer new");
}

TEST_F(CredentialsTest, A401ForAnOlderTokenIsAResendNotAnotherRefresh) {
  auto c = make();
  c->unauthorised(0, nullptr);
  http_.pending.front().done(answer(200, R"({"access_token":"new"})"));
  http_.pending.clear();
  EXPECT_EQ(c->unauthorised(0, nullptr), Credentials::After401::resend);
  EXPECT_TRUE(http_.pending.empty());
}

TEST_F(CredentialsTest, ARunOf401sGetsOneRefreshUntilARequestSucceeds) {
  auto c = make();
  c->unauthorised(0, nullptr);
  http_.pending.front().done(answer(200, R"({"access_token":"new"})"));
  http_.pending.clear();
  EXPECT_EQ(c->unauthorised(1, nullptr), Credentials::After401::give_up)
      << "the new token is refused too: an auth failure, not a refresh loop";
  c->request_succeeded();
  EXPECT_EQ(c->unauthorised(1, nullptr), Credentials::After401::wait_for_refresh);
  EXPECT_EQ(http_.pending.size(), 1u);
}

TEST_F(CredentialsTest, WithoutATokenUrlA401IsGivenUp) {
  settings_.token_url.clear();
  auto c = make();
  EXPECT_EQ(c->unauthorised(0, nullptr), Credentials::After401::give_up);
  EXPECT_TRUE(http_.pending.empty());
  c->refused("push answered HTTP 401");
  EXPECT_STREQ(c->state(), "failed");
}

TEST_F(CredentialsTest, AFailedRefreshTellsEveryWaiterWhyAndTheNext401TriesAgain) {
  auto c = make();
  std::vector<std::string> errors;
  auto done = [&](std::optional<std::string> error) { errors.push_back(error.value_or("")); };
  c->unauthorised(0, done);
  c->unauthorised(0, done);
  http_.pending.front().done(answer(503, R"({"error":"temporarily_unavailable"})"));
  http_.pending.clear();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(
      errors[0],
      R"(token refresh at http://auth.test/token failed: HTTP 503: {"error":"temporarily_unavailable"})");
  EXPECT_STREQ(c->state(), "failed");
  EXPECT_FALSE(c->halted());
  EXPECT_EQ(c->generation(), 0u);
  EXPECT_EQ(c->unauthorised(0, nullptr), Credentials::After401::wait_for_refresh);
}

TEST_F(CredentialsTest, ARefusedGrantHaltsUntilNewCredentialsAreInstalled) {
  auto c = make();
  std::optional<std::string> told;
  c->unauthorised(0, [&](std::optional<std::string> error) { told = error; });
  http_.pending.front().done(
      answer(400, R"({"error":"invalid_grant","error_description":"revoked\u001b[31m"})"));
  http_.pending.clear();
  ASSERT_TRUE(told);
  EXPECT_EQ(
      *told,
      "token refresh at http://auth.test/token refused the grant: invalid_grant (revoked?[31m); "
      "nothing is sent until new credentials are installed (syncctl auth set-token, syncctl "
      "auth login)");
  EXPECT_TRUE(c->halted());
  EXPECT_STREQ(c->state(), "auth_failed");
  EXPECT_EQ(c->unauthorised(0, nullptr), Credentials::After401::give_up);
  EXPECT_FALSE(c->refresh_due_ms());
  EXPECT_TRUE(http_.pending.empty());

  c->install_refresh_token("r-new");
  EXPECT_FALSE(c->halted());
  EXPECT_STREQ(c->state(), "ok");
  // No access token with it yet: one is asked for at once, with the new refresh token.
  ASSERT_TRUE(c->refresh_due_ms());
  EXPECT_LE(*c->refresh_due_ms(), clock_.monotonic_ms());
  c->refresh_ahead(nullptr);
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_NE(http_.pending.front().request.body.find("refresh_token=r-new"), std::string::npos);
}

TEST_F(CredentialsTest, ATokenIsRenewedAFifthOfItsLifetimeBeforeExpiresInAtMostAMinute) {
  auto c = make();
  EXPECT_FALSE(c->refresh_due_ms()) << "the configured token's lifetime is not known";
  c->unauthorised(0, nullptr);
  http_.pending.front().done(answer(200, R"({"access_token":"a1","expires_in":100})"));
  http_.pending.clear();
  const int64_t start = clock_.monotonic_ms();
  ASSERT_TRUE(c->refresh_due_ms());
  EXPECT_EQ(*c->refresh_due_ms(), start + 80000);
  c->request_succeeded();
  c->refresh_ahead(nullptr);
  http_.pending.front().done(answer(200, R"({"access_token":"a2","expires_in":3600})"));
  http_.pending.clear();
  EXPECT_EQ(*c->refresh_due_ms(), clock_.monotonic_ms() + 3600000 - 60000);
  EXPECT_EQ(bearer(*c), "Authorization: Bearer a2");
}

TEST_F(CredentialsTest, AJwtsExpClaimPlansTheRefreshWhenTheAnswerHasNoExpiresIn) {
  // {"alg":"none"} . {"sub":"dev","exp":<now + 50 s>} . (no signature checked)
  const int64_t exp = clock_.now_ms() / 1000 + 50;
  const std::string claims = R"({"sub":"dev","exp":)" + std::to_string(exp) + "}";
  std::string payload = base64_encode(claims);
  for (char& ch : payload) ch = ch == '+' ? '-' : ch == '/' ? '_' : ch;
  while (!payload.empty() && payload.back() == '=') payload.pop_back();
  settings_.token = "eyJhbGciOiJub25lIn0." + payload + ".c2ln";
  auto c = make();
  ASSERT_TRUE(c->refresh_due_ms());
  EXPECT_EQ(*c->refresh_due_ms(), clock_.monotonic_ms() + 50000 - 10000);
}

TEST_F(CredentialsTest, WithoutARefreshTokenTheClientCredentialsGrantIsAsked) {
  settings_.token.clear();
  settings_.refresh_token.clear();
  settings_.client_id = "kiosk";
  settings_.client_secret = "s3cret";
  auto c = make();
  ASSERT_TRUE(c->refresh_due_ms()) << "no token yet: one is asked for before any request";
  c->refresh_ahead(nullptr);
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_EQ(http_.pending.front().request.body,
            "grant_type=client_credentials&client_id=kiosk&client_secret=s3cret");
}

TEST(TokenAnswer, OnlyVisibleAsciiTokensAreTaken) {
  TokenAnswer out;
  EXPECT_FALSE(parse_token_answer(R"({"access_token":"a1","refresh_token":"r2"})", out));
  EXPECT_EQ(out.access_token, "a1");
  EXPECT_EQ(out.refresh_token, "r2");
  EXPECT_FALSE(parse_token_answer(R"({"access_token":"a1"})", out));
  EXPECT_EQ(out.refresh_token, "");
  for (const char* bad :
       {"", "[]", R"({"token":"x"})", R"({"access_token":7})", R"({"access_token":""})",
        R"({"access_token":"a\r\nX: 1"})", R"({"access_token":"ok","refresh_token":"r r"})",
        R"({"access_token":"ok","refresh_token":5})"}) {
    EXPECT_TRUE(parse_token_answer(bad, out)) << bad;
  }
}

// Review (branch review2): docs/ERRORS.md 2.2 gives a failed refresh as "HTTP S: BODY (with
// the redirect notes)", as eb094e2's describe_answer() made it; Credentials::refreshed
// builds its own text and a redirect no longer says where to or that syncd does not follow.
TEST_F(CredentialsTest, ReviewARedirectedRefreshSaysWhereToAsErrorsMdSays) {
  auto c = make();
  std::string error;
  c->unauthorised(0, [&](std::optional<std::string> e) { error = e.value_or(""); });
  ASSERT_EQ(http_.pending.size(), 1u);
  HttpResponse r = answer(302, "");
  r.headers = {{"location", "http://portal.test/login"}};
  http_.pending.front().done(r);
  EXPECT_NE(error.find("a redirect to http://portal.test/login; syncd does not follow"),
            std::string::npos)
      << error;
}

// Review: the sync log never holds a secret (DESIGN.md, Logging). A token endpoint given
// with user info (HTTP basic client authentication) is written whole into two warning
// lines when a refresh fails ("sync: auth failed: token refresh at URL failed" from
// become(), and the engine's note_error); before this change the text only reached status.
TEST_F(CredentialsTest, ReviewAFailedRefreshDoesNotLogTheTokenUrlsPassword) {
  settings_.token_url = "http://client:s3cret-pw@auth.test/token";
  auto c = make();
  c->unauthorised(0, [](std::optional<std::string>) {});
  ASSERT_EQ(http_.pending.size(), 1u);
  ::testing::internal::CaptureStderr();
  http_.pending.front().done(answer(400, R"({"error":"invalid_grant"})"));
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("auth failed"), std::string::npos) << log;
  EXPECT_EQ(log.find("s3cret-pw"), std::string::npos) << log;
}

// A JWT with the given exp claim (no signature checked).
std::string jwt_expiring(int64_t exp_s) {
  std::string claims = base64_encode("{\"exp\":" + std::to_string(exp_s) + "}");
  for (char& ch : claims) ch = ch == '+' ? '-' : ch == '/' ? '_' : ch;
  while (!claims.empty() && claims.back() == '=') claims.pop_back();
  return "eyJhbGciOiJub25lIn0." + claims + ".c2ln";
}

TEST_F(CredentialsTest, AJwtAlreadyExpiredWhenItArrivesIsNotRenewedInALoop) {
  auto c = make();
  c->unauthorised(0, nullptr);
  http_.pending.front().done(
      answer(200, "{\"access_token\":\"" + jwt_expiring(clock_.now_ms() / 1000 - 30) + "\"}"));
  http_.pending.clear();
  // A clock ahead of the server's, or a hostile endpoint: renewing would bring the same.
  EXPECT_FALSE(c->refresh_due_ms()) << "due at once after every refresh: a hot loop";
}

TEST_F(CredentialsTest, ALate401AfterTheHaltDoesNotEndIt) {
  auto c = make();
  c->unauthorised(0, nullptr);
  http_.pending.front().done(answer(400, R"({"error":"invalid_grant"})"));
  http_.pending.clear();
  ASSERT_TRUE(c->halted());
  // A request sent before the halt is refused now.
  EXPECT_EQ(c->unauthorised(0, nullptr), Credentials::After401::give_up);
  c->refused("push answered HTTP 401");
  EXPECT_TRUE(c->halted()) << c->state();
  EXPECT_FALSE(c->refresh_due_ms());
}

TEST_F(CredentialsTest, CredentialsInstalledWhileARefreshRunsAreNotUndoneByItsAnswer) {
  auto c = make();
  bool told = false;
  c->unauthorised(0, [&](std::optional<std::string> error) {
    told = true;
    EXPECT_FALSE(error) << *error;
  });
  c->install_refresh_token("r-fresh");
  http_.pending.front().done(answer(400, R"({"error":"invalid_grant"})"));
  http_.pending.clear();
  EXPECT_TRUE(told);
  EXPECT_FALSE(c->halted()) << "the refusal was of the old refresh token";
  // Nor does a rotated token from the old one replace the installed one.
  c->refresh_ahead(nullptr);
  c->install_refresh_token("r-fresher");
  http_.pending.front().done(answer(200, R"({"access_token":"a","refresh_token":"r0-rotated"})"));
  http_.pending.clear();
  c->refresh_ahead(nullptr);
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_NE(http_.pending.front().request.body.find("refresh_token=r-fresher"), std::string::npos)
      << http_.pending.front().request.body;
}

class CredentialsFileTest : public CredentialsTest {
 protected:
  CredentialsFileTest() { settings_.token_file = dir_.file("token.json"); }
};

TEST_F(CredentialsFileTest, ALoginOutlivesARestartAndIsNotReplacedByTheConfiguredRefreshToken) {
  settings_.client_id = "kiosk";
  make()->install_client_secret("kiosk", "s-new");
  auto c = make();
  c->refresh_ahead(nullptr);
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_EQ(http_.pending.front().request.body,
            "grant_type=client_credentials&client_id=kiosk&client_secret=s-new");
}

TEST_F(CredentialsFileTest, ATokenFileMadeUnderOtherConfiguredCredentialsIsStale) {
  settings_.token_url.clear();
  settings_.refresh_token.clear();
  make()->install_access_token("installed");
  EXPECT_EQ(bearer(*make()), "Authorization: Bearer installed") << "it outlives a restart";
  settings_.token = "rotated-in-config";
  EXPECT_EQ(bearer(*make()), "Authorization: Bearer rotated-in-config");
  // The same for a client secret changed in the config after a login.
  settings_.token_url = "http://auth.test/token";
  settings_.token.clear();
  settings_.client_id = "kiosk";
  settings_.client_secret = "s1";
  make()->install_client_secret("kiosk", "s-installed");
  settings_.client_secret = "s-rotated-in-config";
  auto c = make();
  c->refresh_ahead(nullptr);
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_NE(http_.pending.front().request.body.find("client_secret=s-rotated-in-config"),
            std::string::npos)
      << http_.pending.front().request.body;
}

}  // namespace
}  // namespace syncd
