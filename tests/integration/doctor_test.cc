// `syncctl doctor` on a setup broken on purpose, one fault at a time: each planted fault
// is the finding that fails, with what to do; a healthy setup exits 0, a daemon that is
// not there exits 3.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "tests/integration/harness.h"
#include "tests/integration/test_certificates.h"

namespace syncd::testing {
namespace {

struct DoctorRun {
  int exit_code = -1;
  JsonDocument findings;  // the --json array
  std::string raw;
};

DoctorRun doctor(const std::string& socket) {
  DoctorRun run;
  CommandResult r =
      run_command({syncctl_bin(), "--socket", socket, "--json", "doctor", "--timeout", "10"}, {},
                  Millis(30000));
  run.exit_code = r.exit_code;
  run.raw = r.out + r.err;
  if (parse_json(r.out, run.findings) || !run.findings.IsArray()) {
    run.findings.SetArray();
    ADD_FAILURE() << "doctor --json printed no array: " << run.raw;
  }
  return run;
}

// The first finding of `check` whose outcome is `outcome` and whose detail holds
// `detail_part`; "" when there is none, else its detail and fix.
std::string finding(const DoctorRun& run, const std::string& check, const std::string& outcome,
                    const std::string& detail_part = "") {
  for (const auto& f : run.findings.GetArray()) {
    if (f["check"].GetString() != check || f["outcome"].GetString() != outcome) continue;
    const std::string detail = f["detail"].GetString();
    if (detail.find(detail_part) == std::string::npos) continue;
    return detail + " | fix: " + (f.HasMember("fix") ? f["fix"].GetString() : "");
  }
  return "";
}

int failures(const DoctorRun& run) {
  int n = 0;
  for (const auto& f : run.findings.GetArray())
    n += std::string(f["outcome"].GetString()) == "fail";
  return n;
}

class Doctor : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start()) << server_.log();
    syncd_ = std::make_unique<Syncd>(dir_, R"({"backoff": {"initial_ms": 20, "max_ms": 200}})",
                                     std::vector<std::string>{}, server_.url());
    ASSERT_TRUE(syncd_->start()) << syncd_->log();
  }
  bool fault(const std::string& spec) {
    return http_post(server_.url() + "/admin/faults", spec).status == 200;
  }

  TempDir dir_;
  RefServer server_{dir_};
  std::unique_ptr<Syncd> syncd_;
};

TEST_F(Doctor, AHealthySetupPassesEveryCheck) {
  DoctorRun run = doctor(syncd_->socket());
  EXPECT_EQ(run.exit_code, 0) << run.raw;
  EXPECT_EQ(failures(run), 0) << run.raw;
  for (const char* check : {"socket", "config", "state_dir", "disk", "remote", "tls", "queue"}) {
    EXPECT_NE(finding(run, check, "ok"), "") << check << ": " << run.raw;
  }
  // The reference server's answers carry Date: the clock was compared, not skipped.
  EXPECT_NE(finding(run, "clock", "ok", "within"), "") << run.raw;
  // For people: one line a check and the verdict.
  CommandResult human = run_command({syncctl_bin(), "--socket", syncd_->socket(), "doctor"});
  EXPECT_EQ(human.exit_code, 0) << human.out;
  EXPECT_NE(human.out.find("ok    remote"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("no problem found (8 findings)"), std::string::npos) << human.out;
}

TEST_F(Doctor, EachPlantedFaultIsTheFindingThatFails) {
  // The remote's clock five minutes ahead of ours, then behind.
  ASSERT_TRUE(fault(R"({"clock_offset_s": 300})"));
  DoctorRun run = doctor(syncd_->socket());
  EXPECT_EQ(run.exit_code, 1) << run.raw;
  EXPECT_NE(finding(run, "clock", "fail", "behind the remote's"), "") << run.raw;
  EXPECT_NE(finding(run, "clock", "fail").find("timedatectl set-ntp true"), std::string::npos);
  EXPECT_EQ(failures(run), 1) << run.raw;
  ASSERT_TRUE(fault(R"({"clock_offset_s": -300})"));
  EXPECT_NE(finding(doctor(syncd_->socket()), "clock", "fail", "ahead of the remote's"), "");
  ASSERT_TRUE(fault(R"({"clock_offset_s": 0})"));
  EXPECT_EQ(doctor(syncd_->socket()).exit_code, 0);

  // A mutation the remote refused: a dead letter.
  ASSERT_TRUE(server_.hold_pushes());
  Client client(syncd_->socket());
  JsonDocument put = client.call("put", R"({"collection":"c","id":"x","data":{"a":1}})");
  ASSERT_TRUE(put.HasMember("result")) << to_json(put);
  ASSERT_TRUE(server_.reject({put["result"]["mutation_id"].GetString()}, "not allowed here"));
  ASSERT_TRUE(
      wait_until([&] { return client.call("status")["result"]["queue"]["failed"].GetInt() == 1; },
                 Millis(10000)));
  run = doctor(syncd_->socket());
  EXPECT_EQ(run.exit_code, 1);
  const std::string dead = finding(run, "queue", "fail", "dead letters");
  EXPECT_NE(dead.find("syncctl queue --failed"), std::string::npos) << run.raw;

  // A database file others can read.
  const std::string wal = syncd_->state_dir() + "/syncd.db-wal";
  ASSERT_EQ(::chmod(wal.c_str(), 0644), 0);
  run = doctor(syncd_->socket());
  EXPECT_NE(finding(run, "state_dir", "fail", wal + " is mode 0644").find("chmod 0600 " + wal),
            std::string::npos)
      << run.raw;

  // A socket every user may use.
  ASSERT_EQ(::chmod(syncd_->socket().c_str(), 0666), 0);
  run = doctor(syncd_->socket());
  EXPECT_NE(finding(run, "socket", "fail", "every local user"), "") << run.raw;

  // The config file edited into something a restart would refuse.
  write_file(syncd_->config_path(), R"({"sync": {"batch_size": "many"}})");
  run = doctor(syncd_->socket());
  EXPECT_NE(finding(run, "config", "fail", syncd_->config_path() + " no longer reads"), "")
      << run.raw;

  // The remote gone (a request on a connection open before may fail otherwise first).
  server_.stop();
  ASSERT_TRUE(wait_until(
      [&] {
        const JsonDocument status = client.call("status");
        return to_json(status).find("Couldn't connect") != std::string::npos;
      },
      Millis(10000)));
  run = doctor(syncd_->socket());
  EXPECT_NE(finding(run, "remote", "fail").find("nothing accepts connections there"),
            std::string::npos)
      << run.raw;
  EXPECT_NE(finding(run, "clock", "ok"), "") << "from the last answer that had a Date: " << run.raw;
  // Every fault planted so far is still found: the socket, config, state_dir, remote and
  // queue findings.
  EXPECT_EQ(failures(run), 5) << run.raw;
  CommandResult human = run_command({syncctl_bin(), "--socket", syncd_->socket(), "doctor"});
  EXPECT_EQ(human.exit_code, 1);
  EXPECT_NE(human.out.find("FAIL  remote"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("fix: nothing accepts"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("5 of "), std::string::npos) << human.out;

  // And the daemon gone: exit 3, the socket finding says what to do.
  syncd_->stop();
  run = doctor(syncd_->socket());
  EXPECT_EQ(run.exit_code, 3) << run.raw;
  EXPECT_NE(finding(run, "socket", "fail").find("start syncd"), std::string::npos) << run.raw;
}

TEST(DoctorTls, VerificationTurnedOffAndAnUntrustedServerEachFailTheTlsCheck) {
  TempDir dir;
  TestCertificates certs(dir);
  ASSERT_EQ(certs.error, "");
  RefServer server(dir);
  server.serve_tls(certs.server_cert, certs.server_key);
  ASSERT_TRUE(server.start()) << server.log();
  {
    // The server's CA is not named: its certificate is not trusted.
    Syncd syncd(dir, R"({"backoff": {"initial_ms": 20, "max_ms": 200}})", {}, server.tls_url());
    ASSERT_TRUE(syncd.start()) << syncd.log();
    DoctorRun run = doctor(syncd.socket());
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(finding(run, "tls", "fail", "not trusted").find("tls.ca_file"), std::string::npos)
        << run.raw;
    EXPECT_NE(finding(run, "remote", "fail").find("see the tls finding"), std::string::npos)
        << run.raw;
    syncd.stop();
  }
  TempDir other;
  Syncd syncd(other, R"({"tls": {"insecure_skip_verify": true}})", {}, server.tls_url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  DoctorRun run = doctor(syncd.socket());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(finding(run, "tls", "fail", "verification is off"), "") << run.raw;
  EXPECT_NE(finding(run, "remote", "ok"), "") << "it connects, unverified: " << run.raw;
}

}  // namespace
}  // namespace syncd::testing
