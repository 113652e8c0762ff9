#include "store/key_filter.h"

#include <gtest/gtest.h>

#include <string>

namespace syncd {
namespace {

TEST(KeyFilter, NeverForgetsAKeyAndRarelyClaimsOneItWasNotGiven) {
  KeyFilter filter(10000);
  for (int i = 0; i < 10000; ++i) filter.add("notes", "n" + std::to_string(i));
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(filter.may_contain("notes", "n" + std::to_string(i)));
  int false_positives = 0;
  for (int i = 0; i < 10000; ++i)
    false_positives += filter.may_contain("notes", "x" + std::to_string(i));
  EXPECT_LT(false_positives, 300);  // about 1% at capacity
  // The collection is part of the key.
  EXPECT_FALSE(filter.may_contain("other", "n1") && filter.may_contain("other", "n2") &&
               filter.may_contain("other", "n3"));
}

TEST(KeyFilter, GrowsPastItsCapacityWithoutLosingKeys) {
  KeyFilter filter(1024);
  for (int i = 0; i < 20000; ++i) filter.add("c", "k" + std::to_string(i));
  EXPECT_GE(filter.layers(), 4u);
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(filter.may_contain("c", "k" + std::to_string(i)));
  int false_positives = 0;
  for (int i = 0; i < 10000; ++i)
    false_positives += filter.may_contain("c", "x" + std::to_string(i));
  EXPECT_LT(false_positives, 800);  // each layer adds about 1%
}

TEST(KeyFilter, CountsAKeyOnceHoweverOftenItIsAdded) {
  KeyFilter filter(1000);
  for (int i = 0; i < 50; ++i) filter.add("notes", "same");
  EXPECT_EQ(filter.added(), 1u);
  filter.add("notes", "other");
  EXPECT_EQ(filter.added(), 2u);
}

}  // namespace
}  // namespace syncd
