// Answers that attack the transport: a gzip bomb, a 200 MB body, one byte a second, an
// endless header block, a TLS handshake that never finishes, a Retry-After of three
// years. Memory stays bounded, local clients stay fast, status names the failure and
// syncd backs off.
#include <time.h>

#include "tests/hostile/hostile_fixture.h"

namespace syncd::testing {
namespace {

class Transport : public HostileTest {
 protected:
  long peak_kib() { return peak_rss_kib(syncd_->process()->pid()); }
};

TEST_F(Transport, AGzipBombIsCutAtTheDecodedCapWithoutStallingLocalClients) {
  // 1.2 GiB of zeros in about 1.2 MB on the wire.
  start(R"({"push": {"mode": "gzip_bomb", "inflated_bytes": 1288490188}})");
  const long before = peak_kib();
  write_documents(10);
  const std::vector<double> latencies = probe_latencies(Millis(2000));
  EXPECT_TRUE(wait_for_error("max_response_bytes")) << last_error();
  EXPECT_NE(last_error().find("decoded"), std::string::npos) << last_error();
  EXPECT_LT(peak_kib() - before, kMaxGrowthKib) << "KiB added while the bombs went off";
  EXPECT_LT(quantile(latencies, 0.99), kMaxP99Ms) << "put+get p99 in ms, " << latencies.size();
  EXPECT_LT(quantile(latencies, 1.0), kMaxSlowestMs) << "slowest put+get in ms";
  EXPECT_LE(requests_during("/v1/push", Millis(2000)), kMaxRequestsIn2s);
  recover();
}

TEST_F(Transport, A200MegabyteBodyIsCutAtTheCap) {
  start(R"({"push": {"mode": "huge", "bytes": 200000000}})");
  const long before = peak_kib();
  write_documents(10);
  EXPECT_TRUE(wait_for_error("max_response_bytes")) << last_error();
  EXPECT_LT(peak_kib() - before, kMaxGrowthKib);
  EXPECT_LE(requests_during("/v1/push", Millis(2000)), kMaxRequestsIn2s);
  recover();
}

TEST_F(Transport, AnAnswerOfOneByteASecondTimesOut) {
  start(R"({"push": {"mode": "slow", "bytes_per_second": 1}})");
  write_documents(10);
  const std::vector<double> latencies = probe_latencies(Millis(1000));
  EXPECT_TRUE(wait_for_error("timed out")) << last_error();
  EXPECT_LT(quantile(latencies, 0.99), kMaxP99Ms) << "put+get p99 in ms";
  // Each try lasts http.timeout_ms (1.5 s): at most two rounds of sync.max_inflight (8).
  EXPECT_LE(requests_during("/v1/push", Millis(2000)), 16);
  recover();
}

TEST_F(Transport, AnEndlessHeaderBlockIsCut) {
  start(R"({"push": {"mode": "headers_flood"}})");
  const long before = peak_kib();
  write_documents(10);
  EXPECT_TRUE(wait_for_error("header")) << last_error();
  EXPECT_LT(peak_kib() - before, kMaxGrowthKib);
  EXPECT_LE(requests_during("/v1/push", Millis(2000)), kMaxRequestsIn2s);
  recover();
}

TEST_F(Transport, ATlsHandshakeThatNeverFinishesTimesOutAndBacksOff) {
  start(R"({"hang": true})", kHostileConfig, /*https=*/true);
  write_documents(5);
  EXPECT_TRUE(wait_for_error("time")) << last_error();
  EXPECT_STREQ(status()["result"]["connectivity"].GetString(), "offline");
  // Each probe waits out http.connect_timeout_ms (500 ms), then backs off.
  const int64_t before = hostile_->connections();
  const std::vector<double> latencies = probe_latencies(Millis(2000));
  EXPECT_LE(hostile_->connections() - before, 8);
  EXPECT_LT(quantile(latencies, 0.99), kMaxP99Ms) << "put+get p99 in ms";
  recover();
}

TEST_F(Transport, AHealthCheckRedirectedToAPortalKeepsSyncdOfflineAndSaysWhere) {
  start(R"({"health": {"mode": "fixed", "status": 302,
                       "headers": {"Location": "http://portal.example/login"}}})");
  write_documents(5);
  EXPECT_TRUE(
      wait_for_error("health check answered HTTP 302 (a redirect to "
                     "http://portal.example/login"))
      << last_error();
  EXPECT_STREQ(status()["result"]["connectivity"].GetString(), "offline");
  EXPECT_LE(requests_during("/v1/health", Millis(2000)), kMaxRequestsIn2s);
  recover();
}

// RFC 3339 UTC ("2026-11-26T20:10:04Z") as Unix seconds.
int64_t unix_seconds(const std::string& rfc3339) {
  tm parts{};
  if (strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%SZ", &parts) == nullptr) return -1;
  return static_cast<int64_t>(timegm(&parts));
}

TEST_F(Transport, AnAbsurdRetryAfterIsCappedAtAnHour) {
  start(R"({"push": {"mode": "fixed", "status": 503, "headers": {"Retry-After": "99999999"}}})");
  write_documents(1);
  ASSERT_TRUE(wait_for_error("HTTP 503")) << last_error();
  JsonDocument s = status();
  ASSERT_TRUE(s["result"]["next_retry"].IsString());
  const int64_t next = unix_seconds(s["result"]["next_retry"].GetString());
  EXPECT_LE(next - ::time(nullptr), 3600 + 5) << s["result"]["next_retry"].GetString();
  EXPECT_GE(next - ::time(nullptr), 3600 - 5);
  EXPECT_NE(last_error().find("capped"), std::string::npos) << last_error();
}

TEST_F(Transport, TheRetryAfterCapIsConfigurable) {
  start(R"({"push": {"mode": "fixed", "status": 503, "headers": {"Retry-After": "99999999"}}})",
        R"({"backoff": {"initial_ms": 50, "max_ms": 400, "max_retry_after_s": 1},
            "sync": {"batch_size": 100}})");
  write_documents(3);
  ASSERT_TRUE(wait_for_error("capped at 1 s (backoff.max_retry_after_s)")) << last_error();
  // Each try waits the capped second: two or three in 2.5 s, not none for an hour.
  const int64_t pushes = requests_during("/v1/push", Millis(2500));
  EXPECT_GE(pushes, 2);
  EXPECT_LE(pushes, 3);
  recover();
}

}  // namespace
}  // namespace syncd::testing
