#include "sync/connectivity.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(Connectivity, OfflineUntilAnAnswerThenDegradedOrOfflineByTheFailure) {
  ConnectivityTracker c;
  EXPECT_TRUE(c.offline());
  c.failed(true, "refused");
  EXPECT_EQ(c.state(), Connectivity::offline);
  c.succeeded();
  EXPECT_EQ(c.state(), Connectivity::online);
  c.failed(false, "HTTP 503");
  EXPECT_EQ(c.state(), Connectivity::degraded);
  EXPECT_FALSE(c.offline());
  c.failed(true, "refused");
  EXPECT_TRUE(c.offline());
  EXPECT_STREQ(to_string(Connectivity::degraded), "degraded");
}

}  // namespace
}  // namespace syncd
