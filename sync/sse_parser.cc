#include "sync/sse_parser.h"

namespace syncd {

void SseParser::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      std::string_view text(partial_);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      line(text);
      partial_.clear();
    } else if (partial_.size() < max_event_bytes_) {
      partial_ += c;
    } else {
      oversize_ = true;
    }
  }
}

void SseParser::line(std::string_view text) {
  if (text.empty()) {
    if (has_data_ && !oversize_) on_event_(event_);
    event_ = SseEvent{};
    has_data_ = false;
    oversize_ = false;
    return;
  }
  if (text.front() == ':') return;  // comment (keep-alive)
  size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "event") {
    event_.type = std::string(value);
  } else if (field == "data") {
    if (has_data_) event_.data += '\n';
    event_.data += value;
    has_data_ = true;
    if (event_.data.size() > max_event_bytes_) oversize_ = true;
  }
}

}  // namespace syncd
