#include "sync/connectivity.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(Connectivity, OfflineUntilAnAnswerThenDegradedOrOfflineByTheFailure) {
  FakeClock clock(1000);
  ConnectivityTracker c(clock);
  EXPECT_TRUE(c.offline());
  EXPECT_EQ(c.since_ms(), 1000);
  clock.advance_ms(500);
  c.failed(true, "refused");
  EXPECT_EQ(c.state(), Connectivity::offline);
  EXPECT_EQ(c.since_ms(), 1000) << "still offline: the same state, the same start";
  c.succeeded();
  EXPECT_EQ(c.state(), Connectivity::online);
  EXPECT_EQ(c.since_ms(), 1500);
  c.failed(false, "HTTP 503");
  EXPECT_EQ(c.state(), Connectivity::degraded);
  EXPECT_FALSE(c.offline());
  c.failed(true, "refused");
  EXPECT_TRUE(c.offline());
  EXPECT_STREQ(to_string(Connectivity::degraded), "degraded");
}

TEST(Connectivity, ReachableSinceSurvivesOnlineAndDegradedAndEndsOffline) {
  FakeClock clock(1000);
  ConnectivityTracker c(clock);
  EXPECT_FALSE(c.reachable_since_ms());
  clock.advance_ms(500);
  c.succeeded();
  EXPECT_EQ(c.reachable_since_ms(), 1500);
  clock.advance_ms(500);
  c.failed(false, "HTTP 503");
  clock.advance_ms(500);
  c.succeeded();
  EXPECT_EQ(c.since_ms(), 2500) << "online again: a new state";
  EXPECT_EQ(c.reachable_since_ms(), 1500) << "answering all along";
  c.failed(true, "refused");
  EXPECT_FALSE(c.reachable_since_ms());
}

}  // namespace
}  // namespace syncd
