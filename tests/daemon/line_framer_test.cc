#include "daemon/line_framer.h"

#include <gtest/gtest.h>

#include <vector>

namespace syncd {
namespace {

struct Collected {
  std::vector<std::string> lines;
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

TEST(LineFramer, JoinsAFrameSplitAcrossReads) {
  LineFramer framer(100);
  Collected got;
  EXPECT_TRUE(framer.feed("{\"a\"", got.sink()));
  EXPECT_TRUE(framer.feed(":1", got.sink()));
  EXPECT_TRUE(got.lines.empty());
  EXPECT_TRUE(framer.feed("}\n{", got.sink()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"{\"a\":1}"}));
  EXPECT_EQ(framer.buffered_bytes(), 1u);
}

TEST(LineFramer, SplitsManyFramesInOneReadAndStripsCarriageReturns) {
  LineFramer framer(100);
  Collected got;
  EXPECT_TRUE(framer.feed("a\nb\r\n\nc\nd", got.sink()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_TRUE(framer.feed("\n", got.sink()));
  EXPECT_EQ(got.lines.back(), "d");
}

TEST(LineFramer, ByteByByteGivesTheSameFrames) {
  LineFramer framer(100);
  Collected got;
  std::string stream = "one\ntwo\nthree\n";
  for (char c : stream) EXPECT_TRUE(framer.feed(std::string_view(&c, 1), got.sink()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(LineFramer, ACompleteLineOverTheLimitIsAnErrorAfterTheFramesBeforeIt) {
  LineFramer framer(8);
  Collected got;
  EXPECT_FALSE(framer.feed("ok\n123456789\nlater\n", got.sink()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"ok"}));
  EXPECT_TRUE(framer.overflowed());
  EXPECT_FALSE(framer.feed("more\n", got.sink()));
  EXPECT_EQ(got.lines.size(), 1u);
}

TEST(LineFramer, AnUnterminatedTailOverTheLimitIsCaughtBeforeItsNewline) {
  LineFramer framer(8);
  Collected got;
  EXPECT_TRUE(framer.feed("12345678", got.sink()));  // exactly the limit: still fine
  EXPECT_FALSE(framer.feed("9", got.sink()));
}

TEST(LineFramer, ExactlyTheLimitIsAccepted) {
  LineFramer framer(4);
  Collected got;
  EXPECT_TRUE(framer.feed("abcd\n", got.sink()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"abcd"}));
}

TEST(LineFramer, BufferStaysBoundedOverALongStream) {
  LineFramer framer(64);
  Collected got;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(framer.feed("0123456789\n", got.sink()));
  EXPECT_EQ(got.lines.size(), 10000u);
  EXPECT_EQ(framer.buffered_bytes(), 0u);
}

TEST(LineFramer, AHalfFrameCostsAtMostTheLimitAndOneRead) {
  constexpr size_t kLimit = 1 << 20;
  LineFramer framer(kLimit);
  Collected got;
  const std::string read(60000, 'h');  // not a power of two: doubling overshoots
  for (size_t sent = 0; sent + read.size() <= kLimit; sent += read.size()) {
    ASSERT_TRUE(framer.feed(read, got.sink()));
  }
  EXPECT_LE(framer.capacity_bytes(), kLimit + (64 << 10)) << "not doubled past the limit";
}

TEST(LineFramer, ALargeFrameLeavesNoLargeBufferBehind) {
  LineFramer framer(1 << 20);
  Collected got;
  ASSERT_TRUE(framer.feed(std::string(500000, 'x'), got.sink()));
  ASSERT_TRUE(framer.feed("\n", got.sink()));
  EXPECT_EQ(got.lines.size(), 1u);
  EXPECT_LE(framer.capacity_bytes(), 64u << 10);
}

}  // namespace
}  // namespace syncd
