#include "sync/line_hints.h"

namespace syncd {

std::optional<std::string> LineHints::feed(std::string_view bytes) {
  if (error_) return error_;
  for (char c : bytes) {
    if (c == '\n') {
      if (line_bytes_ > 0) on_hint_();
      line_bytes_ = line_length_ = 0;
      continue;
    }
    if (++line_length_ > max_line_bytes_) {
      error_ = "a line longer than " + std::to_string(max_line_bytes_) + " bytes";
      return error_;
    }
    if (c != ' ' && c != '\r' && c != '\t') ++line_bytes_;
  }
  return std::nullopt;
}

}  // namespace syncd
