#include "sync/circuit_breaker.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(CircuitBreaker, OpensAfterThresholdHalfOpensAfterCooldownAndClosesOnSuccess) {
  FakeClock clock(0);
  CircuitBreaker breaker(3, 30000, clock);
  EXPECT_TRUE(breaker.allow_request());
  breaker.record_failure();
  breaker.record_failure();
  EXPECT_EQ(breaker.state(), BreakerState::closed);
  breaker.record_success();  // a success resets the count
  breaker.record_failure();
  breaker.record_failure();
  EXPECT_EQ(breaker.state(), BreakerState::closed);
  breaker.record_failure();
  EXPECT_EQ(breaker.state(), BreakerState::open);
  EXPECT_EQ(breaker.probe_at_ms(), 30000);
  EXPECT_FALSE(breaker.allow_request());
  clock.advance_ms(29999);
  EXPECT_FALSE(breaker.allow_request());
  clock.advance_ms(1);
  EXPECT_TRUE(breaker.allow_request()) << "one probe after the cool-down";
  EXPECT_EQ(breaker.state(), BreakerState::half_open);
  EXPECT_FALSE(breaker.allow_request()) << "only one probe at a time";
  breaker.record_success();
  EXPECT_EQ(breaker.state(), BreakerState::closed);
  EXPECT_TRUE(breaker.allow_request());
}

TEST(CircuitBreaker, AFailedProbeOpensForAnotherCooldown) {
  FakeClock clock(1000);
  CircuitBreaker breaker(1, 5000, clock);
  breaker.record_failure();
  EXPECT_EQ(breaker.state(), BreakerState::open);
  clock.advance_ms(5000);
  ASSERT_TRUE(breaker.allow_request());
  clock.advance_ms(100);
  breaker.record_failure();
  EXPECT_EQ(breaker.state(), BreakerState::open);
  EXPECT_EQ(breaker.probe_at_ms(), 11100);
  clock.advance_ms(4999);
  EXPECT_FALSE(breaker.allow_request());
  clock.advance_ms(1);
  EXPECT_TRUE(breaker.allow_request());
  EXPECT_STREQ(to_string(breaker.state()), "half_open");
}

}  // namespace
}  // namespace syncd
