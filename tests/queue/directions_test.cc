#include "queue/directions.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(Directions, EachCollectionHasItsOwnOrTheDefault) {
  Directions d(
      Direction::both,
      {{"ui_state", Direction::local}, {"prices", Direction::pull}, {"audit", Direction::push}});
  EXPECT_TRUE(d.pushes("notes") && d.pulls("notes"));
  EXPECT_FALSE(d.pushes("ui_state") || d.pulls("ui_state"));
  EXPECT_TRUE(d.pulls("prices") && !d.pushes("prices"));
  EXPECT_TRUE(d.pushes("audit") && !d.pulls("audit"));
  EXPECT_TRUE(d.pull_filter().empty()) << "the default pulls: ask for everything";
}

TEST(Directions, APullFilterNamesWhatPullsWhenTheDefaultDoesNot) {
  Directions d(
      Direction::local,
      {{"prices", Direction::pull}, {"notes", Direction::both}, {"audit", Direction::push}});
  EXPECT_EQ(d.pull_filter(), (std::vector<std::string>{"notes", "prices"}));
}

TEST(Directions, ParseAndShow) {
  for (const char* name : {"both", "push", "pull", "local"}) {
    auto d = parse_direction(name);
    ASSERT_TRUE(d) << name;
    EXPECT_STREQ(to_string(*d), name);
  }
  EXPECT_FALSE(parse_direction("sideways"));
}

TEST(Directions, AScopeWidensWhenItCoversACollectionItDidNot) {
  const std::string all = Directions().pull_scope();
  const std::string all_but_c = Directions(Direction::both, {{"c", Direction::push}}).pull_scope();
  const std::string only_a = Directions(Direction::local, {{"a", Direction::pull}}).pull_scope();
  const std::string only_ab =
      Directions(Direction::local, {{"a", Direction::pull}, {"b", Direction::both}}).pull_scope();
  EXPECT_TRUE(Directions::widens(all_but_c, all)) << "c pulls again";
  EXPECT_FALSE(Directions::widens(all, all_but_c));
  EXPECT_TRUE(Directions::widens(only_a, only_ab));
  EXPECT_FALSE(Directions::widens(only_ab, only_a));
  EXPECT_TRUE(Directions::widens(only_a, all));
  EXPECT_FALSE(Directions::widens(all, only_a));
  EXPECT_FALSE(Directions::widens("", all)) << "a store from before scopes pulled everything";
  EXPECT_FALSE(Directions::widens("", only_a));
  EXPECT_FALSE(Directions::widens(all_but_c, all_but_c));
}

}  // namespace
}  // namespace syncd
