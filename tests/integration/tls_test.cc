// TLS end to end, against the reference server's https mode with certificates made by
// openssl: the configured CA verifies the server; a CA that did not sign it, an expired
// certificate, a pin that does not match and a missing client certificate each fail with
// a status error naming what to check, while every write waits in the queue and arrives
// once the setting is right; skipping verification is warned about; a group-readable
// client key and credentials over plain http:// to a host outside loopback stop the start.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/integration/harness.h"
#include "tests/integration/test_certificates.h"

namespace syncd::testing {
namespace {

class Tls : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(certs_.error, ""); }

  // The reference server on https with `cert` (requiring a client certificate when
  // asked), with bearer token kToken.
  void start_server(const std::string& cert, bool require_client_cert = false) {
    server_ = std::make_unique<RefServer>(dir_, std::vector<std::string>{"--token", kToken});
    server_->serve_tls(cert, certs_.server_key, require_client_cert ? certs_.ca : "");
    ASSERT_TRUE(server_->start()) << server_->log();
  }

  // syncd (again, on the same state) with `tls` as its tls section.
  void start_syncd(const std::string& tls) {
    client_.reset();
    if (syncd_) {
      ASSERT_EQ(syncd_->stop(), 0);
    }
    const std::string token_file = dir_.file("token");
    write_file(token_file, kToken);
    ::chmod(token_file.c_str(), 0600);
    syncd_ = std::make_unique<Syncd>(dir_,
                                     R"({"backoff": {"initial_ms": 20, "max_ms": 200},
                                         "auth": {"mode": "bearer", "token_file": )" +
                                         json_quote(token_file) + R"(}, "tls": )" + tls + "}",
                                     std::vector<std::string>{}, server_->tls_url());
    ASSERT_TRUE(syncd_->start()) << syncd_->log();
    client_ = std::make_unique<Client>(syncd_->socket());
  }

  void put(int count) {
    for (int i = 0; i < count; ++i) {
      JsonDocument r = client_->call(
          "put", R"({"collection":"t","id":"d)" + std::to_string(written_++) + R"(","data":{}})");
      ASSERT_TRUE(r.HasMember("result")) << to_json(r);
    }
  }

  JsonDocument status() { return client_->call("status"); }
  int64_t queued(const char* state) { return status()["result"]["queue"][state].GetInt64(); }
  std::string last_error() {
    JsonDocument s = status();
    return s["result"]["last_error"].IsString() ? s["result"]["last_error"].GetString() : "";
  }
  bool wait_for_error(const std::string& part) {
    return wait_until([&] { return last_error().find(part) != std::string::npos; }, Millis(10000));
  }
  bool synced() {
    return wait_until([&] { return queued("pending") == 0 && queued("inflight") == 0; },
                      Millis(20000));
  }
  // Mutations the server applied.
  size_t applied() {
    JsonDocument doc;
    if (parse_json(http_get(server_->url() + "/admin/applied").body, doc)) return 0;
    return doc["applied"].GetArray().Size();
  }
  // A refused server: the writes wait, none is a dead letter, none reached the server.
  void expect_writes_wait() {
    EXPECT_EQ(queued("pending") + queued("inflight"), written_);
    EXPECT_EQ(queued("failed"), 0);
    EXPECT_EQ(applied(), 0u);
    JsonDocument got = client_->call("get", R"({"collection":"t","id":"d0"})");
    EXPECT_TRUE(got.HasMember("result")) << to_json(got);
  }
  // After the fix every write arrives exactly once.
  void expect_all_arrive() {
    ASSERT_TRUE(synced()) << to_json(status()) << syncd_->log();
    EXPECT_EQ(applied(), static_cast<size_t>(written_));
  }

  static constexpr const char* kToken = "tls-test-token";
  TempDir dir_;
  TestCertificates certs_{dir_};
  std::unique_ptr<RefServer> server_;
  std::unique_ptr<Syncd> syncd_;
  std::unique_ptr<Client> client_;
  int64_t written_ = 0;
};

std::string in_json(const std::string& s) { return json_quote(s); }

TEST_F(Tls, TheConfiguredCaVerifiesTheServerAndSyncGoesOverHttps) {
  ASSERT_NO_FATAL_FAILURE(start_server(certs_.server_cert));
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"ca_file": )" + in_json(certs_.ca) + "}"));
  put(5);
  expect_all_arrive();
  EXPECT_TRUE(status()["result"]["warnings"].Empty());
  EXPECT_EQ(syncd_->log().find("insecure"), std::string::npos) << syncd_->log();
}

TEST_F(Tls, AServerTheCaDidNotSignIsRefusedAndTheWritesWaitForTheRightCa) {
  ASSERT_NO_FATAL_FAILURE(start_server(certs_.server_cert));
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"ca_file": )" + in_json(certs_.other_ca) + "}"));
  put(5);
  EXPECT_TRUE(wait_for_error("TLS: the server's certificate is not trusted; check tls.ca_file"))
      << last_error();
  expect_writes_wait();
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"ca_file": )" + in_json(certs_.ca) + "}"));
  expect_all_arrive();
}

TEST_F(Tls, WithoutACaFileATestCaIsNotTrusted) {
  ASSERT_NO_FATAL_FAILURE(start_server(certs_.server_cert));
  ASSERT_NO_FATAL_FAILURE(start_syncd("{}"));
  put(2);
  EXPECT_TRUE(wait_for_error("certificate is not trusted")) << last_error();
  expect_writes_wait();
}

TEST_F(Tls, AnExpiredCertificateIsRefusedNamingItsExpiry) {
  ASSERT_NO_FATAL_FAILURE(start_server(certs_.expired_cert));
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"ca_file": )" + in_json(certs_.ca) + "}"));
  put(3);
  EXPECT_TRUE(wait_for_error("TLS: the server's certificate has expired")) << last_error();
  expect_writes_wait();
}

TEST_F(Tls, APinThatDoesNotMatchRefusesTheServerAndOneOfSeveralPinsLetsItThrough) {
  ASSERT_NO_FATAL_FAILURE(start_server(certs_.server_cert));
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"ca_file": )" + in_json(certs_.ca) +
                                      R"(, "pinned_pubkey": )" + in_json(certs_.other_pin) + "}"));
  put(3);
  EXPECT_TRUE(wait_for_error("TLS: the server's public key matches no tls.pinned_pubkey"))
      << last_error();
  expect_writes_wait();
  // During a key rotation the old pin and the new one are both configured.
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"ca_file": )" + in_json(certs_.ca) +
                                      R"(, "pinned_pubkey": [)" + in_json(certs_.other_pin) + "," +
                                      in_json(certs_.server_pin) + "]}"));
  expect_all_arrive();
}

TEST_F(Tls, AServerThatRequiresAClientCertificateRefusesSyncdUntilItHasOne) {
  ASSERT_NO_FATAL_FAILURE(start_server(certs_.server_cert, /*require_client_cert=*/true));
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"ca_file": )" + in_json(certs_.ca) + "}"));
  put(3);
  EXPECT_TRUE(wait_for_error("TLS: the server requires a client certificate")) << last_error();
  expect_writes_wait();
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"ca_file": )" + in_json(certs_.ca) +
                                      R"(, "client_cert": )" + in_json(certs_.client_cert) +
                                      R"(, "client_key": )" + in_json(certs_.client_key) + "}"));
  expect_all_arrive();
}

TEST_F(Tls, SkippingVerificationConnectsButIsWarnedAtStartAndInStatus) {
  ASSERT_NO_FATAL_FAILURE(start_server(certs_.server_cert));
  ASSERT_NO_FATAL_FAILURE(start_syncd(R"({"ca_file": )" + in_json(certs_.other_ca) +
                                      R"(, "insecure_skip_verify": true})"));
  put(2);
  expect_all_arrive();
  JsonDocument s = status();
  ASSERT_EQ(s["result"]["warnings"].Size(), 1u) << to_json(s);
  EXPECT_EQ(
      std::string(s["result"]["warnings"][0].GetString()).rfind("tls.insecure_skip_verify", 0), 0u);
  EXPECT_NE(syncd_->log().find("tls.insecure_skip_verify is set"), std::string::npos)
      << syncd_->log();
  // syncctl status shows it too.
  CommandResult out = run_command({syncctl_bin(), "--socket", syncd_->socket(), "status"});
  EXPECT_NE(out.out.find("tls.insecure_skip_verify is set"), std::string::npos) << out.out;
}

// syncd run on `config` until it exits (at most 10 s).
CommandResult run_syncd(const TempDir& dir, const std::string& config,
                        std::vector<std::string> args = {}) {
  write_file(dir.file("start.json"), config);
  ::chmod(dir.file("start.json").c_str(), 0600);
  std::vector<std::string> argv = {syncd_bin(),           "--config",        dir.file("start.json"),
                                   "--state-dir",         dir.file("state"), "--socket",
                                   dir.file("start.sock")};
  for (auto& a : args) argv.push_back(std::move(a));
  return run_command(argv, {}, Millis(10000));
}

TEST_F(Tls, AClientKeyOthersMayReadStopsTheStartNamingItsMode) {
  ::chmod(certs_.client_key.c_str(), 0644);
  CommandResult r = run_syncd(dir_, R"({"tls": {"client_cert": )" + in_json(certs_.client_cert) +
                                        R"(, "client_key": )" + in_json(certs_.client_key) + "}}");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("tls.client_key: " + certs_.client_key +
                       " may be read by group or others (mode 0644)"),
            std::string::npos)
      << r.err;
}

TEST(TransportSecurity, CredentialsOverPlainHttpToAHostOutsideLoopbackStopTheStart) {
  TempDir dir;
  // 192.0.2.1 is TEST-NET-1: nothing is sent there, the start refuses before any request.
  CommandResult r =
      run_syncd(dir, R"({"remote": "http://192.0.2.1:8787", "auth": {"token": "t0ken"}})");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("remote: http://192.0.2.1:8787 is plain http:// to a host outside "
                       "loopback"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("t0ken"), std::string::npos) << r.err;
  // Allowed on purpose: accepted, with a warning (checked without starting).
  r = run_syncd(dir,
                R"({"remote": {"url": "http://192.0.2.1:8787", "allow_insecure_http": true},
                    "auth": {"token": "t0ken"}})",
                {"--check-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: remote.allow_insecure_http is set"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace syncd::testing
