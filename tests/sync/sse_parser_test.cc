#include "sync/sse_parser.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace syncd {
namespace {

std::vector<SseEvent> parse_in_pieces(const std::string& stream, size_t piece,
                                      std::optional<std::string>* error = nullptr) {
  std::vector<SseEvent> events;
  SseParser parser([&](const SseEvent& e) { events.push_back(e); }, {64, 128});
  for (size_t i = 0; i < stream.size(); i += piece) {
    auto e = parser.feed(std::string_view(stream).substr(i, piece));
    if (error) *error = e;
    if (e) break;
  }
  return events;
}

TEST(SseParser, EventsCommentsAndMultiLineDataWhateverTheSplit) {
  const std::string stream =
      ": connected\n\nevent: changed\ndata: {\"version\":\"4\"}\n\r\n"
      "data: one\ndata: two\n\n: keep-alive\n\nevent: changed\ndata:x\n\n";
  for (size_t piece : {1, 2, 7, 1000}) {
    auto events = parse_in_pieces(stream, piece);
    ASSERT_EQ(events.size(), 3u) << "piece " << piece;
    EXPECT_EQ(events[0].type, "changed");
    EXPECT_EQ(events[0].data, "{\"version\":\"4\"}");
    EXPECT_EQ(events[1].type, "message");
    EXPECT_EQ(events[1].data, "one\ntwo");
    EXPECT_EQ(events[2].data, "x");
  }
}

TEST(SseParser, CrAndCrLfEndLinesAndALeadingByteOrderMarkIsSkipped) {
  const std::string stream =
      "\xEF\xBB\xBF"
      "event: changed\rdata: a\r\r: c\r\ndata: b\r\n\r\n";
  for (size_t piece : {1, 2, 3, 1000}) {
    std::optional<std::string> error;
    auto events = parse_in_pieces(stream, piece, &error);
    EXPECT_FALSE(error) << *error;
    ASSERT_EQ(events.size(), 2u) << "piece " << piece;
    EXPECT_EQ(events[0].type, "changed");
    EXPECT_EQ(events[0].data, "a");
    EXPECT_EQ(events[1].data, "b");
  }
}

TEST(SseParser, ALongLineALongEventOrAnUnknownFieldEndsTheStreamWithItsName) {
  struct Case {
    std::string stream;
    const char* error;
  } cases[] = {
      {"data: " + std::string(100, 'z'), "a line longer than 64 bytes"},
      {"data: " + std::string(50, 'z') + "\ndata: " + std::string(50, 'z') +
           "\ndata: " + std::string(50, 'z') + "\n",
       "an event longer than 128 bytes"},
      {"event: changed\n\x7f\x1b[2J: x\n\n", "a line with unknown field \"??[2J\""},
  };
  for (const auto& c : cases) {
    for (size_t piece : {1, 7, 1000}) {
      std::optional<std::string> error;
      parse_in_pieces(c.stream, piece, &error);
      ASSERT_TRUE(error) << c.error;
      EXPECT_EQ(*error, c.error);
    }
  }
  // Nothing after the first error: the same error again, no event.
  int events = 0;
  SseParser parser([&](const SseEvent&) { ++events; }, {64, 128});
  ASSERT_TRUE(parser.feed("bogus\n"));
  EXPECT_TRUE(parser.feed("data: x\n\n"));
  EXPECT_EQ(events, 0);
}

TEST(SseParser, RandomBytesAreAnErrorWithinAFewLines) {
  std::string noise;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 65536; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    noise += static_cast<char>(x);
  }
  SseParser parser([](const SseEvent&) {});
  EXPECT_TRUE(parser.feed(noise));
}

}  // namespace
}  // namespace syncd
