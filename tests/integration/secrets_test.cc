// Secrets never leak: an authenticated session at debug level, through first grant,
// renewals ahead of expiry, a revoked access token (401 and refresh), failed pushes,
// dropped connections, a refused refresh token (auth_failed) and `syncctl auth set-token`,
// leaves no token, refresh token or client secret in the log, in status, in metrics, in
// --check-config, in syncctl's output or in the database files. Every secret the test
// and the reference server make begins with one marker, so one search finds them all.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

constexpr const char* kMarker = "SEKRIT";

std::string secret_file(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  write_file(path, text + "\n");
  ::chmod(path.c_str(), 0600);
  return path;
}

int grants(const RefServer& server) {
  JsonDocument doc;
  if (parse_json(http_get(server.url() + "/admin/grants").body, doc)) return -1;
  return doc["grants"].GetInt();
}

// Where `text` holds the marker, with some context; "" when nowhere.
std::string leak_in(const std::string& text) {
  const size_t at = text.find(kMarker);
  if (at == std::string::npos) return "";
  return text.substr(at > 80 ? at - 80 : 0, 200);
}

TEST(Secrets, AnAuthenticatedSessionAtDebugLevelLeavesNoSecretInAnyOutput) {
  TempDir dir;
  RefServer server(
      dir, {"--refresh-token", "SEKRIT-r0", "--rotate-refresh-token", "--token-lifetime", "1",
            "--token-prefix", "SEKRIT-", "--client-id", "dev", "--client-secret", "SEKRIT-client"});
  ASSERT_TRUE(server.start()) << server.log();
  const std::string config =
      R"({"log_level": "debug", "backoff": {"initial_ms": 20, "max_ms": 200},
          "breaker": {"failure_threshold": 1000},
          "auth": {"mode": "oauth2", "token_url": ")" +
      server.url() + R"(/oauth/token", "client_id": "dev", "refresh_token_file": )" +
      json_quote(secret_file(dir, "refresh", "SEKRIT-r0")) + R"(, "client_secret_file": )" +
      json_quote(secret_file(dir, "client", "SEKRIT-client")) + "}}";
  Syncd syncd(dir, config, {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  int n = 0;
  auto write_and_drain = [&](int count) {
    for (int i = 0; i < count; ++i) {
      client.call("put", R"({"collection":"s","id":"d)" + std::to_string(n++) + R"(","data":{}})");
    }
    return wait_until(
        [&] {
          JsonDocument s = client.call("status");
          return s["result"]["queue"]["pending"].GetInt64() == 0 &&
                 s["result"]["queue"]["inflight"].GetInt64() == 0;
        },
        Millis(20000));
  };
  ASSERT_TRUE(write_and_drain(50)) << syncd.log();
  // Renewals ahead of expiry (1 s tokens).
  ASSERT_TRUE(wait_until([&] { return write_and_drain(5) && grants(server) >= 3; }, Millis(15000)))
      << syncd.log();
  // A revoked access token: a 401, a refresh, a resend.
  ASSERT_EQ(http_post(server.url() + "/admin/revoke", "{}").status, 200);
  ASSERT_TRUE(write_and_drain(5)) << syncd.log();
  // Failed pushes and connections dropped mid-answer.
  ASSERT_EQ(http_post(server.url() + "/admin/faults",
                      R"({"status": 503, "count": 3, "path": "/v1/push", "drop_mid_body": 2})")
                .status,
            200);
  ASSERT_TRUE(write_and_drain(10)) << syncd.log();
  // A refused refresh token, then a new one installed by syncctl.
  JsonDocument reissued;
  ASSERT_FALSE(
      parse_json(http_post(server.url() + "/admin/revoke_refresh_token", "{}").body, reissued));
  ASSERT_EQ(http_post(server.url() + "/admin/revoke", "{}").status, 200);
  client.call("put", R"({"collection":"s","id":"halted","data":{}})");
  ASSERT_TRUE(wait_until(
      [&] {
        return client.call("status")["result"]["auth"].GetString() == std::string("auth_failed");
      },
      Millis(20000)))
      << syncd.log();
  const std::string status_halted = to_json(client.call("status"));
  CommandResult set =
      run_command({syncctl_bin(), "--socket", syncd.socket(), "auth", "set-token", "--refresh",
                   "--file", secret_file(dir, "new", reissued["refresh_token"].GetString())});
  EXPECT_EQ(set.exit_code, 0) << set.err;
  ASSERT_TRUE(write_and_drain(5)) << syncd.log();

  std::vector<std::pair<std::string, std::string>> outputs = {
      {"status while halted", status_halted},
      {"status", to_json(client.call("status"))},
      {"metrics", to_json(client.call("metrics"))},
      {"syncctl auth set-token", set.out + set.err}};
  for (const char* command : {"status", "metrics"}) {
    for (bool json : {false, true}) {
      std::vector<std::string> argv = {syncctl_bin(), "--socket", syncd.socket()};
      if (json) argv.push_back("--json");
      argv.push_back(command);
      CommandResult r = run_command(argv);
      outputs.emplace_back(std::string("syncctl ") + command, r.out + r.err);
    }
  }
  ASSERT_EQ(syncd.stop(), 0);
  outputs.emplace_back("the log", syncd.log());
  CommandResult check =
      run_command({syncd_bin(), "--config", syncd.config_path(), "--check-config"});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  outputs.emplace_back("--check-config", check.out + check.err);
  // The same with the secrets inline in the config (mode 0600).
  const std::string inline_config = dir.file("inline.json");
  write_file(inline_config, R"({"auth": {"token_url": "http://127.0.0.1:1/t",
      "token": "SEKRIT-a", "refresh_token": "SEKRIT-b", "client_secret": "SEKRIT-c"}})");
  ::chmod(inline_config.c_str(), 0600);
  check = run_command({syncd_bin(), "--config", inline_config, "--check-config"});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("auth.token = (set)"), std::string::npos) << check.out;
  outputs.emplace_back("--check-config, inline secrets", check.out + check.err);
  for (const char* name : {"/syncd.db", "/syncd.db-wal"}) {
    outputs.emplace_back(name, read_file(syncd.state_dir() + name));
  }
  ASSERT_GT(grants(server), 3);
  // The session went through what it should: token requests, refusals, failures.
  for (const char* part : {"POST /oauth/token", "-> 401 in", "-> 503 in",
                           "refused the grant: invalid_grant", "new credentials installed"}) {
    EXPECT_NE(syncd.log().find(part), std::string::npos) << part << " not in the log";
  }
  for (const auto& [where, text] : outputs) {
    EXPECT_EQ(leak_in(text), "") << "a secret in " << where;
  }
}

}  // namespace
}  // namespace syncd::testing
