// JSON-line hints (CouchDB's continuous feed): one per line that is not empty, any split.
#include "sync/line_hints.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(LineHints, EachLineIsAHintAndEmptyLinesAreHeartbeats) {
  int hints = 0;
  LineHints lines([&] { ++hints; });
  const std::string feed =
      "\n{\"seq\":1,\"id\":\"n/a\"}\n\n \r\n{\"seq\":2,\"id\":\"n/b\"}\r\n{\"se";
  for (char c : feed) ASSERT_FALSE(lines.feed(std::string_view(&c, 1)));
  EXPECT_EQ(hints, 2) << "the last line is not complete yet";
  ASSERT_FALSE(lines.feed("q\":3}\n"));
  EXPECT_EQ(hints, 3);
}

TEST(LineHints, LinesThatComeTogetherAreOneHint) {
  int hints = 0;
  LineHints lines([&] { ++hints; });
  ASSERT_FALSE(lines.feed("{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3}\n{\"se"));
  EXPECT_EQ(hints, 1);
  ASSERT_FALSE(lines.feed("q\":4}\n\n"));
  EXPECT_EQ(hints, 2);
  ASSERT_FALSE(lines.feed("\n\n"));
  EXPECT_EQ(hints, 2) << "heartbeats";
}

TEST(LineHints, ALineLongerThanTheLimitEndsTheStream) {
  int hints = 0;
  LineHints lines([&] { ++hints; }, 8);
  EXPECT_FALSE(lines.feed("12345678\n"));
  auto error = lines.feed("123456789");
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "a line longer than 8 bytes");
  EXPECT_TRUE(lines.feed("\n")) << "nothing is taken after the first error";
  EXPECT_EQ(hints, 1);
}

}  // namespace
}  // namespace syncd
