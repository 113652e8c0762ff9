// The daemon's doctor checks (daemon/doctor.h) on states built by hand: where each turns
// into a failure, and that each failure says what to do.
#include "daemon/doctor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include "tests/test_support.h"

namespace syncd {
namespace {

using Outcome = DoctorFinding::Outcome;
constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kMinute = 60'000;

class DoctorChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    ::chmod(dir_.path().c_str(), 0750);
    setup_.state_dir = dir_.path();
    setup_.remote_url = "http://127.0.0.1:8787";
    setup_.remote_protocol = "v1";
    state_.now_ms = kNow;
    state_.sync.connectivity = Connectivity::online;
    state_.sync.connectivity_since_ms = kNow - 60 * kMinute;
    state_.sync.reachable_since_ms = kNow - 60 * kMinute;
    state_.sync.last_contact_ms = kNow - 1000;
    state_.sync.clock_skew_ms = 400;
  }
  // The findings of `check`.
  std::vector<DoctorFinding> of(const std::string& check) const {
    std::vector<DoctorFinding> out;
    for (DoctorFinding& f : examine(setup_, state_, limits_)) {
      if (f.check == check) out.push_back(std::move(f));
    }
    return out;
  }
  DoctorFinding one(const std::string& check) const {
    std::vector<DoctorFinding> found = of(check);
    EXPECT_EQ(found.size(), 1u) << check;
    return found.empty() ? DoctorFinding{} : found.front();
  }
  void make_file(const std::string& name, mode_t mode) {
    std::ofstream(dir_.file(name)) << "x";
    ::chmod(dir_.file(name).c_str(), mode);
  }

  testing::TempDir dir_;
  DoctorSetup setup_;
  DoctorState state_;
  DoctorLimits limits_;
};

TEST_F(DoctorChecks, AHealthyStatePassesAndEveryFailureHasAFix) {
  make_file("syncd.db", 0600);
  make_file("syncd.lock", 0640);
  for (const DoctorFinding& f : examine(setup_, state_, limits_)) {
    EXPECT_EQ(f.outcome, Outcome::ok) << f.check << ": " << f.detail;
    EXPECT_EQ(f.fix, "") << f.check;
  }
  state_.sync.connectivity = Connectivity::offline;
  state_.sync.last_error = "Could not resolve host: sync.example";
  state_.queue.failed = 2;
  int failed = 0;
  for (const DoctorFinding& f : examine(setup_, state_, limits_)) {
    if (f.outcome == Outcome::fail) {
      ++failed;
      EXPECT_NE(f.fix, "") << f.check;
    }
  }
  EXPECT_EQ(failed, 2) << "the remote and the queue";
}

TEST_F(DoctorChecks, TheConfigFileIsReadAsARestartWould) {
  EXPECT_NE(one("config").detail.find("embedded default"), std::string::npos);
  const std::string path = dir_.file("config.json");
  make_file("config.json", 0600);
  setup_.config_path = path;
  setup_.reread_config = [] { throw std::runtime_error("sync.batch_size: expected an integer"); };
  DoctorFinding f = one("config");
  EXPECT_EQ(f.outcome, Outcome::fail);
  EXPECT_NE(f.detail.find(path + " no longer reads: sync.batch_size"), std::string::npos)
      << f.detail;
  EXPECT_NE(f.fix.find("syncd --check-config --config " + path), std::string::npos);
  // A FIFO in its place is not read (it would hold the loop), nor is a missing file.
  ::unlink(path.c_str());
  EXPECT_NE(one("config").detail.find(path + " is gone"), std::string::npos);
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  f = one("config");
  EXPECT_EQ(f.outcome, Outcome::fail);
  EXPECT_NE(f.detail.find("is not a regular file"), std::string::npos) << f.detail;
}

TEST_F(DoctorChecks, StateFilesOthersCanReachFailNamingTheFileAndTheMode) {
  make_file("syncd.lock", 0640);  // its pid, for the group: allowed
  make_file("token.json", 0640);
  make_file("journal.0", 0604);
  std::vector<DoctorFinding> found = of("state_dir");
  ASSERT_EQ(found.size(), 2u);
  std::string all;
  for (const auto& f : found) all += f.detail + " / " + f.fix + "\n";
  EXPECT_NE(all.find("token.json is mode 0640"), std::string::npos) << all;
  EXPECT_NE(all.find("chmod 0600 " + dir_.file("journal.0")), std::string::npos) << all;
  EXPECT_EQ(all.find("syncd.lock"), std::string::npos) << all;
  ::chmod(dir_.path().c_str(), 0777);
  found = of("state_dir");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].fix, "chmod 0750 " + dir_.path());
}

TEST_F(DoctorChecks, TooLittleFreeSpaceFails) {
  EXPECT_EQ(one("disk").outcome, Outcome::ok);
  limits_.min_free_bytes = int64_t{1} << 60;  // more than any disk here
  const DoctorFinding f = one("disk");
  EXPECT_EQ(f.outcome, Outcome::fail);
  EXPECT_NE(f.fix.find("storage_full"), std::string::npos);
}

TEST_F(DoctorChecks, EachKindOfUnreachableRemoteGetsItsOwnFix) {
  state_.sync.connectivity = Connectivity::offline;
  const std::pair<const char*, const char*> cases[] = {
      {"health check failed: Immediate connect fail for 10.1.2.3: Operation not permitted",
       "IPAddressAllow="},
      {"push failed: Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server",
       "nothing accepts connections"},
      {"pull failed: Could not resolve host: sync.example", "does not resolve"},
      {"pull failed: Connection timed out after 10001 milliseconds", "route and firewalls"},
      {"pull failed: select/poll returned error", "connection broke"},
      {"health check answered HTTP 404 (no protocol v1 endpoint there: check remote)",
       "remote.protocol"},
      {"push failed: TLS: the server's certificate is not trusted; check tls.ca_file",
       "see the tls finding"},
  };
  for (const auto& [error, fix] : cases) {
    state_.sync.last_error = error;
    const DoctorFinding f = one("remote");
    EXPECT_EQ(f.outcome, Outcome::fail) << error;
    EXPECT_NE(f.detail.find(error), std::string::npos) << f.detail;
    EXPECT_NE(f.fix.find(fix), std::string::npos) << error << " -> " << f.fix;
  }
  state_.sync.connectivity = Connectivity::online;
  state_.sync.auth = "failed";
  EXPECT_NE(one("remote").fix.find("syncctl auth set-token"), std::string::npos);
  state_.sync.last_contact_ms.reset();
  state_.sync.auth = "none";
  state_.sync.connectivity = Connectivity::offline;
  EXPECT_NE(one("remote").detail.find("no answer yet"), std::string::npos);
}

TEST_F(DoctorChecks, TlsFailsWhenWeakenedOrRefusedAndPassesWhenVerified) {
  setup_.remote_url = "http://10.0.0.5:8787";
  setup_.sends_credentials = true;
  DoctorFinding f = one("tls");
  EXPECT_EQ(f.outcome, Outcome::fail);
  EXPECT_NE(f.detail.find("plain http:// to 10.0.0.5: documents and credentials"),
            std::string::npos)
      << f.detail;
  setup_.remote_url = "https://sync.example";
  EXPECT_EQ(one("tls").outcome, Outcome::ok);
  setup_.tls_insecure_skip_verify = true;
  EXPECT_NE(one("tls").detail.find("verification is off"), std::string::npos);
  setup_.tls_insecure_skip_verify = false;
  state_.sync.connectivity = Connectivity::offline;
  state_.sync.last_error =
      "pull failed: TLS: the server's public key matches no tls.pinned_pubkey (...)";
  f = one("tls");
  EXPECT_EQ(f.outcome, Outcome::fail);
  EXPECT_NE(f.fix.find("add its new pin"), std::string::npos) << f.fix;
  state_.sync.last_error = "pull failed: Couldn't connect to server";
  EXPECT_EQ(one("tls").outcome, Outcome::skipped) << "no handshake to judge";
}

TEST_F(DoctorChecks, ClockSkewFailsPastTheLimitEitherWay) {
  state_.sync.clock_skew_ms = 29'000;
  EXPECT_EQ(one("clock").outcome, Outcome::ok);
  state_.sync.clock_skew_ms = 31'000;
  EXPECT_NE(one("clock").detail.find("31 s behind the remote's"), std::string::npos)
      << one("clock").detail;
  state_.sync.clock_skew_ms = -45 * kMinute;
  EXPECT_NE(one("clock").detail.find("45 min ahead of the remote's"), std::string::npos)
      << one("clock").detail;
  state_.sync.clock_skew_ms.reset();
  EXPECT_EQ(one("clock").outcome, Outcome::skipped);
  EXPECT_NE(one("clock").detail.find("no Date header"), std::string::npos);
}

TEST_F(DoctorChecks, AQueueIsStuckOnlyAfterWaitingThatLongWhileTheRemoteAnswers) {
  state_.queue.pending = 3;
  // Queued two hours ago, offline until five minutes ago: what the queue is for.
  state_.oldest_pending_created_ms = kNow - 120 * kMinute;
  state_.sync.reachable_since_ms = kNow - 5 * kMinute;
  EXPECT_EQ(one("queue").outcome, Outcome::ok);
  // Answering for 11 minutes, its pushes refused with 503s (degraded a moment ago).
  state_.sync.reachable_since_ms = kNow - 11 * kMinute;
  state_.sync.connectivity = Connectivity::degraded;
  state_.sync.connectivity_since_ms = kNow - 1000;
  state_.sync.last_error = "push answered HTTP 503";
  DoctorFinding f = one("queue");
  EXPECT_EQ(f.outcome, Outcome::fail);
  EXPECT_NE(f.detail.find("waited 11 min while the remote answered; last error: push answered "
                          "HTTP 503"),
            std::string::npos)
      << f.detail;
  state_.sync.connectivity = Connectivity::offline;
  state_.sync.reachable_since_ms.reset();
  EXPECT_EQ(one("queue").outcome, Outcome::ok) << "offline: waiting is expected";
  state_.queue.failed = 1;
  state_.queue.conflict = 2;
  std::vector<DoctorFinding> found = of("queue");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_NE(found[0].fix.find("syncctl retry --all"), std::string::npos);
  EXPECT_NE(found[1].detail.find("2 conflict(s)"), std::string::npos);
}

}  // namespace
}  // namespace syncd
