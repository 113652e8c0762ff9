#pragma once
// Server-Sent Events framing (the WHATWG "event stream" format): lines of
// "field: value" ended by LF, CRLF or CR; an empty line ends an event; lines starting
// with ':' are comments. Handles any split of the byte stream.
//
// A stream from a hostile server is bounded here: a line longer than max_line_bytes, an
// event longer than max_event_bytes, or a field other than event, data, id and retry
// is an error naming it, and the parser takes nothing after its first error (the
// caller ends the stream and backs off). A line costs a scan, not a copy per byte.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace syncd {

struct SseEvent {
  std::string type = "message";
  std::string data;
};

class SseParser {
 public:
  struct Limits {
    size_t max_line_bytes = 4096;
    size_t max_event_bytes = 64 << 10;
  };
  explicit SseParser(std::function<void(const SseEvent&)> on_event, Limits limits)
      : on_event_(std::move(on_event)), limits_(limits) {}
  explicit SseParser(std::function<void(const SseEvent&)> on_event)
      : SseParser(std::move(on_event), Limits{}) {}

  // Parses the next bytes; nullopt while the stream is well-formed, else why it is not.
  std::optional<std::string> feed(std::string_view bytes);

 private:
  std::optional<std::string> line(std::string_view text);

  std::function<void(const SseEvent&)> on_event_;
  Limits limits_;
  std::string partial_;  // the current line so far
  SseEvent event_;
  bool has_data_ = false;
  bool after_cr_ = false;  // the last line ended with CR: a LF right after it is the same end
  bool started_ = false;   // past a leading byte order mark
  std::optional<std::string> error_;
};

}  // namespace syncd
