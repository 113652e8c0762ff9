#include "sync/sse_parser.h"

#include <gtest/gtest.h>

#include <vector>

namespace syncd {
namespace {

std::vector<SseEvent> parse_in_pieces(const std::string& stream, size_t piece) {
  std::vector<SseEvent> events;
  SseParser parser([&](const SseEvent& e) { events.push_back(e); }, 64);
  for (size_t i = 0; i < stream.size(); i += piece)
    parser.feed(std::string_view(stream).substr(i, piece));
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

TEST(SseParser, AnOversizeEventIsDroppedAndTheNextOneStillArrives) {
  auto events =
      parse_in_pieces("data: " + std::string(200, 'z') + "\n\nevent: changed\ndata: ok\n\n", 5);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "ok");
}

}  // namespace
}  // namespace syncd
