// CurlTransport on a real libuv loop against the reference server and the fault proxy.
#include <gtest/gtest.h>

#include "sync/curl_transport.h"
#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

class HttpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()) << server_.log(); }
  void TearDown() override {
    bool closed = false;
    transport_->close([&] { closed = true; });
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_TRUE(closed);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "every handle closed";
  }
  // Sends one request and runs the loop until its answer.
  HttpResponse fetch(HttpRequest request) {
    HttpResponse out;
    bool done = false;
    transport_->send(std::move(request), [&](HttpResponse r) {
      out = std::move(r);
      done = true;
    });
    while (!done) uv_run(&loop_, UV_RUN_ONCE);
    return out;
  }
  HttpRequest get(const std::string& path) {
    return HttpRequest{"GET", server_.url() + path, {}, "", {}};
  }
  HttpRequest admin(const std::string& json) {
    return HttpRequest{
        "POST", server_.url() + "/admin/faults", {"Content-Type: application/json"}, json, {}};
  }

  TempDir dir_;
  RefServer server_{dir_};
  struct Loop {
    Loop() { uv_loop_init(&handle); }
    uv_loop_t handle{};
  } loop_holder_;  // initialised before the transport that uses it
  uv_loop_t& loop_ = loop_holder_.handle;
  HttpSettings settings_{};
  std::unique_ptr<CurlTransport> transport_ = std::make_unique<CurlTransport>(&loop_, settings_);
};

TEST_F(HttpTransportTest, GetAndPostWithHeaders) {
  HttpResponse health = fetch(get("/v1/health"));
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find("\"ok\":true"), std::string::npos);
  EXPECT_EQ(health.header("content-type"), "application/json");
  HttpResponse push = fetch(HttpRequest{
      "POST",
      server_.url() + "/v1/push",
      {"Content-Type: application/json"},
      R"({"client_id":"t","mutations":[{"id":"m1","collection":"c","doc_id":"a","op":"put","base_version":null,"data":{"x":1}}]})",
      {}});
  EXPECT_EQ(push.status, 200);
  EXPECT_NE(push.body.find("\"applied\""), std::string::npos) << push.body;
}

TEST_F(HttpTransportTest, RefusedConnectionIsATransportError) {
  server_.stop();
  HttpResponse r = fetch(get("/v1/health"));
  EXPECT_TRUE(r.transport_failed());
  EXPECT_FALSE(r.error.empty());
  EXPECT_FALSE(r.timed_out);
}

TEST_F(HttpTransportTest, RetryAfterHeaderOfAnInjectedFault) {
  ASSERT_EQ(fetch(admin(R"({"status":503,"count":1,"retry_after":"7"})")).status, 200);
  HttpResponse r = fetch(get("/v1/pull?cursor=0&limit=1"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "7");
  EXPECT_EQ(fetch(get("/v1/pull?cursor=0&limit=1")).status, 200) << "one-shot";
}

TEST_F(HttpTransportTest, AHungServerTimesOutWithoutBlockingTheLoop) {
  settings_.timeout_ms = 300;
  transport_->set_settings(settings_);
  TempDir proxy_dir;
  FaultProxy proxy(proxy_dir, server_.port());
  ASSERT_TRUE(proxy.start());
  ASSERT_EQ(proxy.command("blackhole"), "ok blackhole");
  // A timer keeps ticking on the same loop while the request hangs.
  uv_timer_t ticker;
  int ticks = 0;
  uv_timer_init(&loop_, &ticker);
  ticker.data = &ticks;
  uv_timer_start(
      &ticker, [](uv_timer_t* t) { ++*static_cast<int*>(t->data); }, 10, 10);
  HttpResponse r = fetch(HttpRequest{"GET", proxy.url() + "/v1/health", {}, "", {}});
  bool ticker_closed = false;
  ticker.data = &ticker_closed;
  uv_close(reinterpret_cast<uv_handle_t*>(&ticker),
           [](uv_handle_t* h) { *static_cast<bool*>(h->data) = true; });
  while (!ticker_closed) uv_run(&loop_, UV_RUN_ONCE);
  EXPECT_TRUE(r.transport_failed());
  EXPECT_TRUE(r.timed_out) << r.error;
  EXPECT_GE(ticks, 5) << "the loop kept running while the request hung";
}

TEST_F(HttpTransportTest, AResetMidBodyIsATransportError) {
  TempDir proxy_dir;
  FaultProxy proxy(proxy_dir, server_.port());
  ASSERT_TRUE(proxy.start());
  ASSERT_EQ(proxy.command("reset_after 30"), "ok pass");
  HttpResponse r = fetch(HttpRequest{"GET", proxy.url() + "/v1/health", {}, "", {}});
  EXPECT_TRUE(r.transport_failed()) << r.status << " " << r.body;
}

TEST_F(HttpTransportTest, ResponsesOverTheCapAreRefused) {
  std::string mutations;
  for (int i = 0; i < 50; ++i) {
    mutations += std::string(i ? "," : "") + R"({"id":"m)" + std::to_string(i) +
                 R"(","collection":"c","doc_id":"d)" + std::to_string(i) +
                 R"(","op":"put","base_version":null,"data":{"pad":")" + std::string(100, 'p') +
                 "\"}}";
  }
  ASSERT_EQ(fetch(HttpRequest{"POST",
                              server_.url() + "/v1/push",
                              {},
                              R"({"client_id":"t","mutations":[)" + mutations + "]}",
                              {}})
                .status,
            200);
  settings_.max_response_bytes = 2048;
  transport_->set_settings(settings_);
  HttpResponse r = fetch(get("/v1/pull?cursor=0&limit=100"));
  EXPECT_TRUE(r.transport_failed());
  EXPECT_NE(r.error.find("max_response_bytes"), std::string::npos) << r.error;
}

TEST_F(HttpTransportTest, ManyRequestsInFlightAllComplete) {
  int done = 0;
  for (int i = 0; i < 20; ++i) {
    transport_->send(get("/v1/health"), [&](HttpResponse r) {
      EXPECT_EQ(r.status, 200);
      ++done;
    });
  }
  EXPECT_EQ(transport_->in_flight(), 20u);
  while (done < 20) uv_run(&loop_, UV_RUN_ONCE);
  EXPECT_EQ(transport_->in_flight(), 0u);
}

// The request sent in the same turn as a stream is not held until the stream ends. With
// CURLOPT_PIPEWAIT, libcurl 7.88 parked the request to wait for the stream's connection
// to say whether it multiplexes; an HTTP/1.1 answer never woke it, so a push sat unsent
// (and untimed) for as long as the server kept the event stream open.
TEST_F(HttpTransportTest, ARequestSentWithAStreamIsNotHeldByIt) {
  HttpRequest stream = get("/v1/events");
  stream.on_chunk = [](std::string_view) { return true; };
  bool stream_done = false;
  transport_->send(std::move(stream), [&](HttpResponse) { stream_done = true; });
  bool done = false;
  HttpResponse health;
  transport_->send(get("/v1/health"), [&](HttpResponse r) {
    health = std::move(r);
    done = true;
  });
  uv_timer_t deadline{};
  uv_timer_init(&loop_, &deadline);
  bool expired = false;
  deadline.data = &expired;
  uv_timer_start(
      &deadline, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 5000, 0);
  while (!done && !expired) uv_run(&loop_, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);  // the close completes at the end of this iteration
  EXPECT_TRUE(done) << "the request waited 5 s behind the open stream";
  EXPECT_EQ(health.status, 200) << health.error;
  EXPECT_FALSE(stream_done) << "the stream stays open";
  transport_->cancel_all();
}

}  // namespace
}  // namespace syncd::testing
