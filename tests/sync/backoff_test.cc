#include "sync/backoff.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

// A random source that returns a fixed fraction of the range each time.
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(double fraction) : word_(static_cast<uint64_t>(fraction * 0x1.0p53) << 11) {}
  uint64_t next_u64() override { return word_; }

 private:
  uint64_t word_;
};

TEST(Backoff, CeilingGrowsByTheFactorUpToTheCap) {
  Xoshiro256 random(1);
  Backoff backoff({1000, 2.0, 60000}, random);
  EXPECT_EQ(backoff.ceiling_ms(1), 1000);
  EXPECT_EQ(backoff.ceiling_ms(2), 2000);
  EXPECT_EQ(backoff.ceiling_ms(6), 32000);
  EXPECT_EQ(backoff.ceiling_ms(7), 60000);
  EXPECT_EQ(backoff.ceiling_ms(5000), 60000) << "no overflow for long outages";
  Backoff slow({250, 1.5, 10000}, random);
  EXPECT_EQ(slow.ceiling_ms(3), 562);
}

TEST(Backoff, FullJitterSpansZeroToTheCeiling) {
  FixedRandom low(0.0), high(0.9999999), mid(0.5);
  EXPECT_EQ(Backoff({1000, 2.0, 60000}, low).delay_ms(3), 0);
  EXPECT_EQ(Backoff({1000, 2.0, 60000}, high).delay_ms(3), 4000);
  EXPECT_EQ(Backoff({1000, 2.0, 60000}, mid).delay_ms(3), 2000);
}

TEST(Backoff, SeededScheduleIsExactAndWithinBounds) {
  Xoshiro256 a(42), b(42);
  Backoff first({1000, 2.0, 60000}, a), second({1000, 2.0, 60000}, b);
  for (int failures = 1; failures <= 12; ++failures) {
    int64_t delay = first.delay_ms(failures);
    EXPECT_EQ(delay, second.delay_ms(failures)) << "same seed, same schedule";
    EXPECT_GE(delay, 0);
    EXPECT_LE(delay, first.ceiling_ms(failures));
  }
}

TEST(Backoff, RetryAfterWinsOnlyWhenLonger) {
  FixedRandom mid(0.5);
  Backoff backoff({1000, 2.0, 60000}, mid);
  EXPECT_EQ(backoff.delay_ms(3, 10000), 10000);
  EXPECT_EQ(backoff.delay_ms(3, 500), 2000);
  EXPECT_EQ(backoff.delay_ms(1, 120000), 120000) << "the server may ask past the cap";
}

TEST(Backoff, RetryAfterIsCappedByMaxRetryAfter) {
  FixedRandom mid(0.5);
  Backoff backoff({1000, 2.0, 60000, 3600000}, mid);
  EXPECT_EQ(backoff.delay_ms(1, int64_t{99999999} * 1000), 3600000) << "not 3 years";
  EXPECT_EQ(backoff.delay_ms(1, 3599000), 3599000);
  Backoff tight({1000, 2.0, 60000, 500}, mid);
  EXPECT_EQ(tight.delay_ms(3, 10000), 2000) << "the backoff's own delay still holds";
}

}  // namespace
}  // namespace syncd
