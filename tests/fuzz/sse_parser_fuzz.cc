// Fuzz target: the Server-Sent Events parser (sync/sse_parser.h) on small limits, fed
// the whole stream at once and again in pieces whose sizes the steering bytes pick.
// The parser promises to handle any split: both runs must give the same events and
// the same verdict; no event is longer than the limit; nothing comes after an error.
#include <cstddef>
#include <cstdint>

#include "sync/sse_parser.h"
#include "tests/fuzz/fuzz_support.h"

using namespace syncd;

namespace {

struct Run {
  std::vector<SseEvent> events;
  std::optional<std::string> error;
};

// Feeds `stream` in pieces of the sizes in `pieces` (cycled; 0 means the rest).
Run parse(std::string_view stream, const std::vector<size_t>& pieces, SseParser::Limits limits) {
  Run run;
  bool failed = false;
  SseParser parser(
      [&](const SseEvent& e) {
        if (failed) fuzz::fail("an event after the stream's error");
        run.events.push_back(e);
      },
      limits);
  size_t next = 0;
  while (!stream.empty()) {
    size_t n = pieces.empty() ? 0 : pieces[next++ % pieces.size()];
    if (n == 0 || n > stream.size()) n = stream.size();
    auto error = parser.feed(stream.substr(0, n));
    stream.remove_prefix(n);
    if (error) {
      if (run.error && *run.error != *error) fuzz::fail("the error changed");
      run.error = error;
      failed = true;
    }
  }
  if (auto error = parser.feed("")) run.error = error;
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  fuzz::Steering steer(stream);
  SseParser::Limits limits{8 + steer.byte() % 64u, 16 + steer.byte() % 256u};
  std::vector<size_t> pieces;
  for (int i = 0; i < 4; ++i) pieces.push_back(steer.byte() % 17);

  const Run whole = parse(stream, {}, limits);
  const Run split = parse(stream, pieces, limits);
  if (whole.error != split.error) {
    fuzz::fail("whole: " + whole.error.value_or("ok") + ", split: " + split.error.value_or("ok"));
  }
  if (whole.events.size() != split.events.size()) fuzz::fail("the split gives another event count");
  for (size_t i = 0; i < whole.events.size(); ++i) {
    const SseEvent &a = whole.events[i], &b = split.events[i];
    if (a.type != b.type || a.data != b.data) fuzz::fail("event " + std::to_string(i) + " differs");
    if (a.data.size() > limits.max_event_bytes) fuzz::fail("an event longer than the limit");
  }
  return 0;
}
