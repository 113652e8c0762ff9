#pragma once
// Splits a byte stream into newline-terminated frames, whatever the read boundaries.
// A frame (or an unterminated tail) longer than the limit is an error, reported once;
// bytes before it still come out as frames. Memory: an unfinished frame costs at most the
// limit plus one read; once no partial frame is left, a large buffer is given back.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace syncd {

class LineFramer {
 public:
  explicit LineFramer(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Calls on_line for each complete line (without the "\n" and a trailing "\r").
  // Returns false when a line exceeds the limit; the framer then ignores further input.
  bool feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line);

  bool overflowed() const { return overflowed_; }
  size_t buffered_bytes() const { return buffer_.size() - start_; }
  void set_max_line_bytes(size_t bytes) { max_line_bytes_ = bytes; }
  size_t capacity_bytes() const { return buffer_.capacity(); }

 private:
  static constexpr size_t kReadBytes = 64 << 10;  // the IPC server's read size
  static constexpr size_t kKeepBytes = 64 << 10;  // kept across frames, not returned
  size_t max_line_bytes_;
  std::vector<char> buffer_;
  size_t start_ = 0;  // first byte of the current partial line
  size_t scan_ = 0;   // bytes before this are known to hold no newline
  bool overflowed_ = false;
};

}  // namespace syncd
