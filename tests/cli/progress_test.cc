#include "cli/progress.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(DrainProgress, ABarAndALineWithTheRateAndTheTimeLeft) {
  DrainProgress p(1000, 0);
  p.update(1000, 0);
  EXPECT_EQ(p.bar(10), "[..........]  0/1000  0/s");
  EXPECT_EQ(p.line(), "0 of 1000 sent, 0/s");
  p.update(500, 2000);  // 250 a second: 2 s left
  EXPECT_EQ(p.sent(), 500);
  EXPECT_EQ(p.bar(10), "[#####.....]  500/1000  250/s  about 2 s left");
  EXPECT_EQ(p.line(), "500 of 1000 sent, 250/s, about 2 s left");
  p.update(0, 4000);
  EXPECT_TRUE(p.drained());
  EXPECT_EQ(p.bar(10), "[##########]  1000/1000  250/s  done");
  EXPECT_EQ(p.line(), "1000 of 1000 sent, 250/s, done");
}

TEST(DrainProgress, WritesMadeMeanwhileGrowTheTotalAndTheCountNeverGoesBack) {
  DrainProgress p(100, 0);
  p.update(80, 1000);
  EXPECT_EQ(p.sent(), 20);
  p.update(90, 2000);  // new writes came in
  EXPECT_EQ(p.sent(), 20);
  EXPECT_EQ(p.total(), 110);
  p.update(0, 3000);
  EXPECT_EQ(p.sent(), 110);
  EXPECT_TRUE(p.drained());
}

TEST(DrainProgress, AnEmptyQueueIsDrainedAtOnce) {
  DrainProgress p(0, 0);
  EXPECT_FALSE(p.drained()) << "not before the first look";
  p.update(0, 0);
  EXPECT_TRUE(p.drained());
  EXPECT_EQ(p.bar(4), "[####]  0/0  0/s  done");
}

}  // namespace
}  // namespace syncd
