// CurlTransport on a real libuv loop against the hostile server: what a server sends in
// any amount, at any speed, never holds the loop for long, and the response cap counts
// decoded bytes.
#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>

#include "sync/curl_transport.h"
#include "tests/hostile/hostile_server.h"

namespace syncd::testing {
namespace {

// The CPU time of the calling thread, in ns: what the loop itself spent, whatever else
// the machine runs (a wall-clock gap would count time the thread was not scheduled).
uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// A loop with a 1 ms ticker that records the most CPU time spent between two of its
// ticks: the longest time anything else on the loop held it.
class LoopWatch {
 public:
  LoopWatch() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &ticker_);
    ticker_.data = this;
    last_ns_ = thread_cpu_ns();
    uv_timer_start(
        &ticker_,
        [](uv_timer_t* t) {
          auto* self = static_cast<LoopWatch*>(t->data);
          const uint64_t now = thread_cpu_ns();
          self->longest_gap_ns_ = std::max(self->longest_gap_ns_, now - self->last_ns_);
          self->last_ns_ = now;
        },
        1, 1);
  }
  ~LoopWatch() {
    uv_close(reinterpret_cast<uv_handle_t*>(&ticker_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  uv_loop_t* loop() { return &loop_; }
  // Forgets what was seen so far (a process's first request initialises libcurl).
  void reset() {
    last_ns_ = thread_cpu_ns();
    longest_gap_ns_ = 0;
  }
  double longest_gap_ms() const { return static_cast<double>(longest_gap_ns_) / 1e6; }

 private:
  uv_loop_t loop_{};
  uv_timer_t ticker_{};
  uint64_t last_ns_ = 0;
  uint64_t longest_gap_ns_ = 0;
};

// The most CPU time one turn of the loop may take on the hostile server's input: what
// bounded decoding (256 KiB a turn) costs with room to spare; the sanitizers make every
// instruction 5 to 15 times dearer, so their builds allow that much more.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr double kMostLoopTurnMs = 500.0;
#else
constexpr double kMostLoopTurnMs = 50.0;
#endif

HttpResponse fetch(LoopWatch& watch, CurlTransport& transport, HttpRequest request) {
  HttpResponse out;
  bool done = false;
  transport.send(std::move(request), [&](HttpResponse r) {
    out = std::move(r);
    done = true;
  });
  while (!done) uv_run(watch.loop(), UV_RUN_ONCE);
  return out;
}

void close(LoopWatch& watch, CurlTransport& transport) {
  bool closed = false;
  transport.close([&] { closed = true; });
  while (!closed) uv_run(watch.loop(), UV_RUN_ONCE);
}

TEST(CurlTransportAgainstAHostileServer, AGzipBombStopsAtTheDecodedCapWithoutHoldingTheLoop) {
  TempDir dir;
  HostileServer server(dir, R"({"push": {"mode": "gzip_bomb", "inflated_bytes": 1288490188}})");
  ASSERT_TRUE(server.start()) << server.log();
  LoopWatch watch;
  // A cap of 16 MiB: what is measured is decoding the bomb, not growing a body of the
  // default 64 MiB (whose reallocations copy up to 32 MiB at once).
  HttpSettings settings;
  settings.max_response_bytes = 16 << 20;
  CurlTransport transport(watch.loop(), settings);
  ASSERT_EQ(
      fetch(watch, transport, HttpRequest{"GET", server.url() + "/v1/health", {}, "", {}}).status,
      200);
  watch.reset();
  HttpResponse r =
      fetch(watch, transport, HttpRequest{"POST", server.url() + "/v1/push", {}, "{}", {}});
  EXPECT_TRUE(r.transport_failed());
  EXPECT_NE(r.error.find("max_response_bytes"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("decoded"), std::string::npos) << r.error;
  EXPECT_LT(watch.longest_gap_ms(), kMostLoopTurnMs) << "the loop was held this long";
  close(watch, transport);
}

TEST(CurlTransportAgainstAHostileServer, AGzipBodyCutShortIsAnError) {
  TempDir dir;
  // 2 MiB of zeros, and the connection closes before the gzip stream's end.
  HostileServer server(dir, R"({"push": {"mode": "gzip_bomb", "inflated_bytes": 2097152}})");
  ASSERT_TRUE(server.start()) << server.log();
  LoopWatch watch;
  CurlTransport transport(watch.loop(), HttpSettings{});
  HttpResponse r =
      fetch(watch, transport, HttpRequest{"POST", server.url() + "/v1/push", {}, "{}", {}});
  EXPECT_TRUE(r.transport_failed());
  EXPECT_EQ(r.error, "the compressed body is cut short (its stream has no end)");
  close(watch, transport);
}

TEST(CurlTransportAgainstAHostileServer, AStreamAsFastAsTheSocketDoesNotHoldTheLoop) {
  TempDir dir;
  HostileServer server(dir, R"({"events": {"mode": "random"}})");
  ASSERT_TRUE(server.start()) << server.log();
  LoopWatch watch;
  CurlTransport transport(watch.loop(), HttpSettings{});
  ASSERT_EQ(
      fetch(watch, transport, HttpRequest{"GET", server.url() + "/v1/health", {}, "", {}}).status,
      200);
  watch.reset();
  size_t received = 0;
  HttpRequest request{"GET", server.url() + "/v1/events", {}, "", {}};
  // Takes 64 MiB of random bytes, then ends the stream.
  request.on_chunk = [&](std::string_view bytes) {
    received += bytes.size();
    return received < (64u << 20);
  };
  HttpResponse r = fetch(watch, transport, std::move(request));
  EXPECT_TRUE(r.transport_failed());
  EXPECT_GE(received, 64u << 20);
  EXPECT_LT(watch.longest_gap_ms(), kMostLoopTurnMs) << "the loop was held this long";
  close(watch, transport);
}

}  // namespace
}  // namespace syncd::testing
