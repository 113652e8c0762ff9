#pragma once
// Server-Sent Events framing (the WHATWG "event stream" format): lines of
// "field: value", an empty line ends an event, lines starting with ':' are comments.
// Handles any split of the byte stream; an event larger than the limit is dropped.
#include <functional>
#include <string>
#include <string_view>

namespace syncd {

struct SseEvent {
  std::string type = "message";
  std::string data;
};

class SseParser {
 public:
  explicit SseParser(std::function<void(const SseEvent&)> on_event,
                     size_t max_event_bytes = 1 << 16)
      : on_event_(std::move(on_event)), max_event_bytes_(max_event_bytes) {}
  void feed(std::string_view bytes);

 private:
  void line(std::string_view text);

  std::function<void(const SseEvent&)> on_event_;
  size_t max_event_bytes_;
  std::string partial_;
  SseEvent event_;
  bool has_data_ = false;
  bool oversize_ = false;
};

}  // namespace syncd
