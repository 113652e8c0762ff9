#include "util/uuid7.h"

#include <gtest/gtest.h>

#include <set>

namespace syncd {
namespace {

TEST(Uuid7, HasVersionVariantAndTimestamp) {
  FakeClock clock(0x0193a6f27c1eLL);
  Xoshiro256 random(1);
  Uuid7Generator ids(clock, random);
  std::string id = ids.next();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id.substr(0, 13), "0193a6f2-7c1e");
  EXPECT_EQ(id[14], '7');
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
}

TEST(Uuid7, SortsInCreationOrderWithinOneMillisecondAndWhenTheClockStepsBack) {
  FakeClock clock(1'700'000'000'000);
  Xoshiro256 random(42);
  Uuid7Generator ids(clock, random);
  std::string previous = ids.next();
  std::set<std::string> seen{previous};
  for (int i = 0; i < 10000; ++i) {
    if (i == 5000) clock.advance_ms(-3000);  // NTP step backwards
    if (i % 1000 == 999) clock.advance_ms(1);
    std::string id = ids.next();
    EXPECT_LT(previous, id) << "at " << i;
    EXPECT_TRUE(seen.insert(id).second);
    previous = id;
  }
}

TEST(Uuid7, SameSeedSameIds) {
  FakeClock clock;
  Xoshiro256 a(7), b(7);
  Uuid7Generator ga(clock, a), gb(clock, b);
  EXPECT_EQ(ga.next(), gb.next());
}

TEST(Uuid4, HasVersionFour) {
  Xoshiro256 random(3);
  std::string id = make_uuid4(random);
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(id, make_uuid4(random));
}

}  // namespace
}  // namespace syncd
