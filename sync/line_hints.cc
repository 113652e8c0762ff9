#include "sync/line_hints.h"

namespace syncd {

std::optional<std::string> LineHints::feed(std::string_view bytes) {
  if (error_) return error_;
  bool hint = false;
  for (char c : bytes) {
    if (c == '\n') {
      hint = hint || line_bytes_ > 0;
      line_bytes_ = line_length_ = 0;
      continue;
    }
    if (++line_length_ > max_line_bytes_) {
      error_ = "a line longer than " + std::to_string(max_line_bytes_) + " bytes";
      return error_;
    }
    if (c != ' ' && c != '\r' && c != '\t') ++line_bytes_;
  }
  // One hint for the lines that came together: a _bulk_docs of 500 is 500 lines, and
  // one pull reads them all.
  if (hint) on_hint_();
  return std::nullopt;
}

}  // namespace syncd
