#include "cli/status_view.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace syncd {
namespace {

class StatusView : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

constexpr int64_t kNow = 1764768000000;  // 2025-12-03T13:20:00Z

JsonDocument status_json(const char* text) {
  JsonDocument doc;
  doc.Parse(text);
  return doc;
}

TEST_F(StatusView, EveryLineForPeopleWithLocalTimesAndSpans) {
  JsonDocument s = status_json(R"({
    "version": "0.1.0", "client_id": "c1", "uptime_s": 3725,
    "connectivity": "offline", "connectivity_since": "2025-12-03T13:15:00Z",
    "breaker": "open", "auth": "ok",
    "queue": {"pending": 12, "inflight": 1, "failed": 2, "conflict": 0},
    "oldest_pending_age_s": 42,
    "last_push": "2025-12-03T13:19:48Z", "last_pull": null,
    "next_retry": "2025-12-03T13:20:18Z",
    "last_error": "Failed to connect", "last_error_at": "2025-12-02T09:00:00Z",
    "warnings": ["tls.insecure_skip_verify is set"]})");
  EXPECT_EQ(render_status(s, kNow, false),
            "syncd 0.1.0, client c1, up 1 h 2 min\n"
            "state        offline since 13:15:00 (5 min ago)\n"
            "queue        12 pending, 1 inflight, 2 failed, 0 conflict; oldest pending 42 s\n"
            "last push    13:19:48 (12 s ago)\n"
            "last pull    never\n"
            "next retry   13:20:18 (in 18 s)\n"
            "breaker      open\n"
            "auth         ok\n"
            "last error   Failed to connect (2025-12-02 09:00:00 (1 d 4 h ago))\n"
            "warning      tls.insecure_skip_verify is set\n");
}

TEST_F(StatusView, ColourMarksTheStateAndWhatNeedsALook) {
  JsonDocument s = status_json(R"({"connectivity": "online", "breaker": "closed",
    "auth": "auth_failed", "queue": {"pending": 0, "inflight": 0, "failed": 1, "conflict": 0}})");
  const std::string out = render_status(s, kNow, true);
  EXPECT_NE(out.find("\x1b[32monline\x1b[0m"), std::string::npos) << out;
  EXPECT_NE(out.find("\x1b[31m1 failed\x1b[0m"), std::string::npos) << out;
  EXPECT_NE(out.find("\x1b[31mauth_failed\x1b[0m"), std::string::npos) << out;
  EXPECT_NE(out.find("0 conflict"), std::string::npos);
  EXPECT_EQ(out.find("\x1b[33m0 conflict"), std::string::npos) << "nothing to look at: plain";
  EXPECT_EQ(render_status(s, kNow, false).find('\x1b'), std::string::npos);
}

TEST_F(StatusView, TimesAndSpans) {
  EXPECT_EQ(parse_rfc3339_utc("2025-12-03T13:20:00Z"), kNow);
  EXPECT_EQ(parse_rfc3339_utc("1970-01-01T00:00:00Z"), 0);
  EXPECT_FALSE(parse_rfc3339_utc("2025-12-03 13:20:00Z"));
  EXPECT_FALSE(parse_rfc3339_utc("2025-13-03T13:20:00Z"));
  EXPECT_FALSE(parse_rfc3339_utc("2025-12-03T13:20:0xZ"));
  EXPECT_FALSE(parse_rfc3339_utc(""));
  EXPECT_EQ(span_text(0), "0 s");
  EXPECT_EQ(span_text(59999), "59 s");
  EXPECT_EQ(span_text(60000), "1 min");
  EXPECT_EQ(span_text(185000), "3 min 5 s");
  EXPECT_EQ(span_text(7440000), "2 h 4 min");
  EXPECT_EQ(span_text(3 * 86400000LL + 3600000), "3 d 1 h");
}

}  // namespace
}  // namespace syncd
