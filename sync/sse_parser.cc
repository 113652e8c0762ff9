#include "sync/sse_parser.h"

#include "sync/server_text.h"

namespace syncd {

std::optional<std::string> SseParser::feed(std::string_view bytes) {
  if (error_) return error_;
  if (!started_) {
    // A UTF-8 byte order mark may open the stream; it can be split like anything else.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    const size_t have = partial_.size();
    const size_t take = std::min(bytes.size(), kBom.size() - have);
    if (kBom.substr(have, take) == bytes.substr(0, take)) {
      if (have + take < kBom.size()) {
        partial_.append(bytes.substr(0, take));
        return std::nullopt;
      }
      bytes.remove_prefix(take);
      partial_.clear();
    }
    started_ = true;
  }
  while (!bytes.empty()) {
    if (after_cr_ && bytes.front() == '\n') bytes.remove_prefix(1);
    after_cr_ = false;
    const size_t end = bytes.find_first_of("\r\n");
    const std::string_view piece = bytes.substr(0, end);
    if (partial_.size() + piece.size() > limits_.max_line_bytes) {
      error_ = "a line longer than " + std::to_string(limits_.max_line_bytes) + " bytes";
      return error_;
    }
    if (end == std::string_view::npos) {
      partial_.append(piece);
      return std::nullopt;
    }
    after_cr_ = bytes[end] == '\r';
    bytes.remove_prefix(end + 1);
    if (partial_.empty()) {
      error_ = line(piece);
    } else {
      partial_.append(piece);
      error_ = line(partial_);
      partial_.clear();
    }
    if (error_) return error_;
  }
  return std::nullopt;
}

std::optional<std::string> SseParser::line(std::string_view text) {
  if (text.empty()) {
    if (has_data_) on_event_(event_);
    event_ = SseEvent{};
    has_data_ = false;
    return std::nullopt;
  }
  if (text.front() == ':') return std::nullopt;  // comment (keep-alive)
  size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "event") {
    event_.type = std::string(value);
  } else if (field == "data") {
    if (event_.data.size() + value.size() + 1 > limits_.max_event_bytes) {
      return "an event longer than " + std::to_string(limits_.max_event_bytes) + " bytes";
    }
    if (has_data_) event_.data += '\n';
    event_.data += value;
    has_data_ = true;
  } else if (field != "id" && field != "retry") {
    return "a line with unknown field \"" + server_text(field, 40) + "\"";
  }
  return std::nullopt;
}

}  // namespace syncd
