#include "sync/retry_after.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

constexpr int64_t kNow = 784111777000;  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(RetryAfter, DelaySeconds) {
  EXPECT_EQ(parse_retry_after_ms("120", kNow), 120000);
  EXPECT_EQ(parse_retry_after_ms(" 0 ", kNow), 0);
  EXPECT_EQ(parse_retry_after_ms("99999999999999", kNow), int64_t{999'999'999} * 1000);
}

TEST(RetryAfter, AllThreeHttpDateForms) {
  EXPECT_EQ(parse_http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"), kNow);
  EXPECT_EQ(parse_http_date_ms("Sunday, 06-Nov-94 08:49:37 GMT"), kNow);
  EXPECT_EQ(parse_http_date_ms("Sun Nov  6 08:49:37 1994"), kNow);
  EXPECT_EQ(parse_retry_after_ms("Sun, 06 Nov 1994 08:50:37 GMT", kNow), 60000);
  EXPECT_EQ(parse_retry_after_ms("Sun, 06 Nov 1994 08:00:00 GMT", kNow), 0) << "past date";
}

TEST(RetryAfter, GarbageIsRejected) {
  for (const char* bad : {"", "soon", "-5", "1.5", "12abc", "Sun, 06 Nov 1994 08:49:37",
                          "Sun, 32 Nov 1994 08:49:37 GMT"}) {
    EXPECT_FALSE(parse_retry_after_ms(bad, kNow)) << bad;
  }
}

}  // namespace
}  // namespace syncd
