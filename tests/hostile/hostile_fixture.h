#pragma once
// The frame of every hostile-server test: a HostileServer scripted by the test, a syncd
// whose remote it is (with short backoff, so a test sees many retry rounds in a second
// or two), the writes the test made, and the checks every case shares: syncd stays up,
// `status` names the error, requests back off, nothing is dead-lettered, and once the
// reference server takes over the port every acknowledged write arrives exactly once.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/hostile/hostile_server.h"
#include "tests/integration/harness.h"
#include "tests/integration/test_certificates.h"

namespace syncd::testing {

// Backoff from 50 ms to 400 ms, the breaker open for 400 ms after 4 failures, answers
// capped at 1 MiB, 1.5 s per request; local writes not synced to the disk (what the
// latency checks measure is the loop, not the disk of a shared CI machine).
extern const char* const kHostileConfig;

// With that backoff, 2 s hold about ten rounds of retries (full jitter: each waits a
// random part of its ceiling, so some runs see twice that); a hot loop makes hundreds
// or thousands of requests.
constexpr int64_t kMaxRequestsIn2s = 40;
// Local put+get while a hostile server works on syncd, in ms: far above a round trip
// (a millisecond or two, more under the sanitizers and a loaded CI machine), far below
// the seconds a held loop costs.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kMaxP99Ms = 1000;
#else
constexpr double kMaxP99Ms = 250;
#endif
constexpr double kMaxSlowestMs = 2000;
// Memory a bounded answer may add: the 1 MiB cap, curl's buffers, the allocator's slack;
// under AddressSanitizer also its quarantine of freed blocks (256 MiB by default). An
// unbounded answer added 2 GiB.
#if defined(__SANITIZE_ADDRESS__)
constexpr long kMaxGrowthKib = 384 * 1024;
#else
constexpr long kMaxGrowthKib = 96 * 1024;
#endif

class HostileTest : public ::testing::Test {
 protected:
  // Starts the hostile server with `script` and syncd on it (over https:// when asked).
  void start(const std::string& script, const std::string& config = kHostileConfig,
             bool https = false);
  // Puts `count` new documents and remembers them with their mutation ids.
  void write_documents(int count);

  JsonDocument status();
  std::string last_error();
  int64_t queue_count(const char* state);
  // Waits until `last_error` contains `part`.
  bool wait_for_error(const std::string& part, Millis timeout = Millis(8000));
  // The requests for `path` the hostile server counts during `window`.
  int64_t requests_during(const std::string& path, Millis window);
  // put+get round trips for `duration`; each one's latency in milliseconds, sorted.
  std::vector<double> probe_latencies(Millis duration);

  // Every write is still in the local view and none is a dead letter.
  void expect_writes_kept();
  // The hostile server goes, the reference server takes its port (over https when syncd
  // was started on https): every acknowledged write arrives exactly once and the local
  // view is the server's state.
  void recover();

  TempDir dir_;
  std::unique_ptr<HostileServer> hostile_;
  std::unique_ptr<Syncd> syncd_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<RefServer> reference_;
  std::unique_ptr<TestCertificates> certificates_;  // on https: the CA syncd trusts
  std::map<std::string, std::string> written_;      // document id -> its data
  std::vector<std::string> mutation_ids_;
  int probes_ = 0;
};

// The value at quantile `q` (0..1) of sorted samples; 0 for none.
double quantile(const std::vector<double>& sorted, double q);

}  // namespace syncd::testing
