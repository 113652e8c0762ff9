// OAuth end to end against the reference server's token endpoint: a short-lived token is
// renewed ahead of its expiry during a replay of 10,000 mutations (no request refused,
// none lost or applied twice); a revoked refresh token halts sending (auth_failed) while
// local writes go on, until `syncctl auth set-token` installs a new one; the
// client_credentials grant gets the first token before any request, and `syncctl auth
// login` replaces a refused client secret.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

std::string secret_file(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  write_file(path, text + "\n");
  ::chmod(path.c_str(), 0600);
  return path;
}

struct Grants {
  int grants = -1;
  int unauthorized = -1;
  std::vector<std::string> kinds;
};

Grants grants_of(const RefServer& server) {
  Grants g;
  JsonDocument doc;
  if (parse_json(http_get(server.url() + "/admin/grants").body, doc)) return g;
  g.grants = doc["grants"].GetInt();
  g.unauthorized = doc["unauthorized"].GetInt();
  for (const auto& k : doc["kinds"].GetArray()) g.kinds.push_back(k.GetString());
  return g;
}

// Mutation ids the server applied, with how often.
std::multiset<std::string> applied_ids(const RefServer& server) {
  std::multiset<std::string> ids;
  JsonDocument doc;
  if (parse_json(http_get(server.url() + "/admin/applied").body, doc)) return ids;
  for (const auto& a : doc["applied"].GetArray()) ids.insert(a["id"].GetString());
  return ids;
}

class Auth : public ::testing::Test {
 protected:
  std::string put(const std::string& id) {
    JsonDocument r = client_->call("put", R"({"collection":"a","id":")" + id + R"(","data":{}})");
    EXPECT_TRUE(r.HasMember("result")) << to_json(r);
    const std::string mid = r.HasMember("result") ? r["result"]["mutation_id"].GetString() : "";
    written_.push_back(mid);
    return mid;
  }
  JsonDocument status() { return client_->call("status"); }
  std::string auth_state() { return status()["result"]["auth"].GetString(); }
  std::string last_error() {
    JsonDocument s = status();
    return s["result"]["last_error"].IsString() ? s["result"]["last_error"].GetString() : "";
  }
  bool drained(Millis timeout = Millis(30000)) {
    return wait_until(
        [&] {
          JsonDocument s = status();
          return s["result"]["queue"]["pending"].GetInt64() == 0 &&
                 s["result"]["queue"]["inflight"].GetInt64() == 0;
        },
        timeout);
  }
  // Every acknowledged write arrived exactly once.
  void expect_each_applied_once(const RefServer& server) {
    const std::multiset<std::string> applied = applied_ids(server);
    EXPECT_EQ(applied.size(), written_.size());
    size_t wrong = 0;
    for (const std::string& id : written_) wrong += applied.count(id) != 1;
    EXPECT_EQ(wrong, 0u) << "mutations not applied exactly once";
  }
  CommandResult syncctl(std::vector<std::string> args) {
    args.insert(args.begin(), {syncctl_bin(), "--socket", syncd_->socket()});
    return run_command(args);
  }
  void start_syncd(const std::string& config, const std::string& remote) {
    syncd_ = std::make_unique<Syncd>(dir_, config, std::vector<std::string>{}, remote);
    ASSERT_TRUE(syncd_->start()) << syncd_->log();
    client_ = std::make_unique<Client>(syncd_->socket());
  }

  TempDir dir_;
  std::unique_ptr<Syncd> syncd_;
  std::unique_ptr<Client> client_;
  std::vector<std::string> written_;
};

TEST_F(Auth, ATokenExpiringDuringAReplayIsRenewedAheadWithNothingRefusedLostOrSentTwice) {
  RefServer server(dir_, {"--refresh-token", "r0", "--token-lifetime", "1.5"});
  server.set_port(free_port());
  const int port = server.port();
  // Offline first: 10,000 writes queue up, then the server comes and they replay.
  ASSERT_NO_FATAL_FAILURE(
      start_syncd(R"({"auth": {"mode": "oauth2", "token_url": "http://127.0.0.1:)" +
                      std::to_string(port) + R"(/oauth/token", "refresh_token_file": )" +
                      json_quote(secret_file(dir_, "refresh", "r0")) +
                      R"(}, "sync": {"batch_size": 20, "max_inflight": 1},
          "backoff": {"initial_ms": 20, "max_ms": 200}, "store": {"synchronous": "normal"}})",
                  "http://127.0.0.1:" + std::to_string(port)));
  for (int i = 0; i < 10000; ++i) put("d" + std::to_string(i));
  ASSERT_TRUE(server.start()) << server.log();
  // 10 ms a request: the replay of 500 pushes outlasts several 1.5 s tokens.
  ASSERT_EQ(http_post(server.url() + "/admin/faults", R"({"delay_ms": 10})").status, 200);
  client_->call("sync.now");
  ASSERT_TRUE(drained(Millis(120000))) << to_json(status()) << syncd_->log();
  expect_each_applied_once(server);
  const Grants g = grants_of(server);
  EXPECT_GE(g.grants, 3) << "a first token and renewals during the replay";
  EXPECT_EQ(g.unauthorized, 0) << "renewed ahead of expiry, no request was refused";
  EXPECT_EQ(auth_state(), "ok");
}

TEST_F(Auth, ARevokedRefreshTokenHaltsSendingUntilSyncctlInstallsANewOne) {
  RefServer server(dir_, {"--refresh-token", "r0"});
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"auth": {"mode": "oauth2", "token_url": ")" +
                                          server.url() +
                                          R"(/oauth/token", "refresh_token_file": )" +
                                          json_quote(secret_file(dir_, "refresh", "r0")) +
                                          R"(}, "backoff": {"initial_ms": 20, "max_ms": 200}})",
                                      server.url()));
  for (int i = 0; i < 5; ++i) put("before" + std::to_string(i));
  ASSERT_TRUE(drained()) << to_json(status()) << syncd_->log();

  // The administrator revokes the device's refresh token and its access token.
  JsonDocument reissued;
  ASSERT_FALSE(
      parse_json(http_post(server.url() + "/admin/revoke_refresh_token", "{}").body, reissued));
  ASSERT_EQ(http_post(server.url() + "/admin/revoke", "{}").status, 200);
  put("during0");
  ASSERT_TRUE(wait_until([&] { return auth_state() == "auth_failed"; }, Millis(10000)))
      << to_json(status());
  EXPECT_NE(last_error().find("refused the grant: invalid_grant (refresh token revoked or "
                              "unknown)"),
            std::string::npos)
      << last_error();
  // Halted: no request goes out, however long; local writes are still taken.
  const Grants halted = grants_of(server);
  EXPECT_FALSE(wait_until(
      [&] {
        const Grants now = grants_of(server);
        return now.grants != halted.grants || now.unauthorized != halted.unauthorized;
      },
      Millis(1500)))
      << "requests sent while halted";
  for (int i = 1; i < 5; ++i) put("during" + std::to_string(i));
  EXPECT_EQ(status()["result"]["queue"]["pending"].GetInt64() +
                status()["result"]["queue"]["inflight"].GetInt64(),
            5);
  EXPECT_EQ(status()["result"]["queue"]["failed"].GetInt64(), 0);

  const std::string file = secret_file(dir_, "new-refresh", reissued["refresh_token"].GetString());
  CommandResult r = syncctl({"auth", "set-token", "--refresh", "--file", file});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(drained()) << to_json(status()) << syncd_->log();
  EXPECT_EQ(auth_state(), "ok");
  expect_each_applied_once(server);
  // The new token is kept for the next start, in the token file, not in the log.
  EXPECT_NE(read_file(syncd_->state_dir() + "/token.json").find("reissued"), std::string::npos);
  EXPECT_EQ(syncd_->log().find(reissued["refresh_token"].GetString()), std::string::npos);
}

TEST_F(Auth, ClientCredentialsGetTheFirstTokenAheadAndLoginReplacesARefusedSecret) {
  RefServer server(dir_, {"--client-id", "kiosk-7", "--client-secret", "right-secret"});
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_NO_FATAL_FAILURE(
      start_syncd(R"({"auth": {"mode": "oauth2", "token_url": ")" + server.url() +
                      R"(/oauth/token", "client_id": "kiosk-7", "client_secret_file": )" +
                      json_quote(secret_file(dir_, "secret", "wrong-secret")) +
                      R"(}, "backoff": {"initial_ms": 20, "max_ms": 200}})",
                  server.url()));
  put("k0");
  ASSERT_TRUE(wait_until([&] { return auth_state() == "auth_failed"; }, Millis(10000)))
      << to_json(status());
  EXPECT_NE(last_error().find("invalid_client"), std::string::npos) << last_error();
  EXPECT_EQ(grants_of(server).unauthorized, 0) << "no request without a token";

  // The secret from stdin is the other way; from a file here.
  CommandResult r =
      syncctl({"auth", "login", "--file", secret_file(dir_, "login", "right-secret")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  put("k1");
  ASSERT_TRUE(drained()) << to_json(status()) << syncd_->log();
  expect_each_applied_once(server);
  const Grants g = grants_of(server);
  EXPECT_EQ(g.kinds, std::vector<std::string>{"client_credentials"});
  EXPECT_EQ(g.unauthorized, 0);
  EXPECT_EQ(syncd_->log().find("right-secret"), std::string::npos);
  EXPECT_EQ(syncd_->log().find("wrong-secret"), std::string::npos);
}

TEST_F(Auth, AConfigFileOthersMayReadMustNotHoldASecret) {
  TempDir dir;
  const std::string config = dir.file("syncd.json");
  write_file(config, R"({"auth": {"token": "inline-secret-0"}})");
  ::chmod(config.c_str(), 0644);
  CommandResult r = run_command({syncd_bin(), "--config", config, "--state-dir", dir.file("s"),
                                 "--socket", dir.file("s.sock")},
                                {}, Millis(10000));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(config + " holds auth.token and may be read by group or others (mode "
                                "0644)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("inline-secret-0"), std::string::npos);
}

// A token syncctl installs at run time follows the rule the config's own follow: never
// over plain http:// to a host outside loopback. 0.0.0.0 is such a host to that rule, and
// connecting to it stays on this machine (Linux takes it as a local address).
TEST(AuthTransport, ATokenInstalledAtRunTimeIsNeverSentOverPlainHttpOffLoopback) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  const std::string token = secret_file(dir, "token", "installed-token-1");
  {
    Syncd syncd(dir, "", {}, server.url());
    ASSERT_TRUE(syncd.start()) << syncd.log();
    CommandResult r = run_command(
        {syncctl_bin(), "--socket", syncd.socket(), "auth", "set-token", "--file", token});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    syncd.stop();
  }
  // The same state (its token.json), the remote now plain http:// off loopback.
  Syncd moved(dir, "", {}, "http://0.0.0.0:1");
  EXPECT_FALSE(moved.start());
  EXPECT_NE(moved.log().find("remote: http://0.0.0.0:1 is plain http:// to a host outside "
                             "loopback"),
            std::string::npos)
      << moved.log();
  EXPECT_NE(moved.log().find("token.json holds credentials"), std::string::npos) << moved.log();
  EXPECT_EQ(moved.log().find("installed-token-1"), std::string::npos);

  TempDir fresh;
  Syncd syncd(fresh, "", {}, "http://0.0.0.0:1");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  CommandResult r = run_command(
      {syncctl_bin(), "--socket", syncd.socket(), "auth", "set-token", "--file", token});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("is plain http:// to a host outside loopback"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(insecure_transport)"), std::string::npos) << r.err;
  EXPECT_FALSE(std::ifstream(syncd.state_dir() + "/token.json").good()) << "nothing kept";
}

}  // namespace
}  // namespace syncd::testing
