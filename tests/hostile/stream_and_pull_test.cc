// The event stream and pull answers turned against syncd: random bytes as fast as the
// socket takes them, a line that never ends, a flood of `changed`, paging that never
// moves, a version that is not one. Local clients stay fast, the work is bounded, and
// every odd answer is a failure with backoff named in status.
#include "tests/hostile/hostile_fixture.h"

namespace syncd::testing {
namespace {

class StreamAndPull : public HostileTest {
 protected:
  double cpu() { return cpu_seconds(syncd_->process()->pid()); }
};

TEST_F(StreamAndPull, RandomBytesOnTheEventStreamDoNotStarveLocalClients) {
  start(R"({"events": {"mode": "random"}})");
  EXPECT_TRUE(wait_for_error("event stream")) << last_error();
  // The stream is ended and reopened after a second or more: little CPU, few streams.
  const double cpu_before = cpu();
  EXPECT_LE(requests_during("/v1/events", Millis(2000)), 4) << "the stream backs off";
  EXPECT_LT(cpu() - cpu_before, 0.5) << "CPU seconds of syncd in 2 s of random bytes";
  const std::vector<double> latencies = probe_latencies(Millis(1000));
  EXPECT_LT(quantile(latencies, 0.99), kMaxP99Ms) << "put+get p99 in ms, " << latencies.size();
  EXPECT_LT(quantile(latencies, 1.0), kMaxSlowestMs) << "slowest put+get in ms";
  write_documents(10);
  recover();
}

TEST_F(StreamAndPull, AnSseLineThatNeverEndsIsCut) {
  start(R"({"events": {"mode": "long_line"}})");
  const long before = peak_rss_kib(syncd_->process()->pid());
  EXPECT_TRUE(wait_for_error("line longer than")) << last_error();
  EXPECT_LE(requests_during("/v1/events", Millis(2000)), 4);
  EXPECT_LT(peak_rss_kib(syncd_->process()->pid()) - before, kMaxGrowthKib);
  write_documents(10);
  recover();
}

TEST_F(StreamAndPull, AFloodOfChangedHintsIsCoalescedAndBacksOff) {
  start(R"({"events": {"mode": "changed", "per_second": 200}})");
  EXPECT_TRUE(wait_for_error("changed")) << last_error();
  // Periodic pulls (1 s) and hint pulls that back off: a handful, not one per hint.
  EXPECT_LE(requests_during("/v1/pull", Millis(2000)), kMaxRequestsIn2s);
  write_documents(10);
  recover();
}

TEST_F(StreamAndPull, PagingWhoseCursorDoesNotMoveEndsWithAnError) {
  start(R"({"pull": {"mode": "same_cursor"}})");
  EXPECT_TRUE(wait_for_error("cursor")) << last_error();
  EXPECT_LE(requests_during("/v1/pull", Millis(2000)), kMaxRequestsIn2s);
  EXPECT_STRNE(status()["result"]["connectivity"].GetString(), "online");
  write_documents(10);
  recover();
}

TEST_F(StreamAndPull, APulledVersionThatIsNotADecimalIntegerIsRefused) {
  start(R"({"pull": {"mode": "bad_version"}})");
  EXPECT_TRUE(wait_for_error("version \"abc\"")) << last_error();
  JsonDocument got = client_->call("get", R"({"collection":"c","id":"bad"})");
  EXPECT_TRUE(got.HasMember("error")) << "nothing of a refused page is applied";
  EXPECT_LE(requests_during("/v1/pull", Millis(2000)), kMaxRequestsIn2s);
  write_documents(10);
  recover();
}

}  // namespace
}  // namespace syncd::testing
