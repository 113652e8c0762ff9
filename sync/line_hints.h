#pragma once
// A change-hint stream of JSON lines (CouchDB's continuous _changes feed): the lines
// that are not empty and end in one piece of the stream are one hint; an empty line is a
// heartbeat. The lines are not parsed,
// only counted: what changed is the pull's to read. A line longer than max_line_bytes is
// an error naming it, and nothing is taken after the first error (the caller ends the
// stream and backs off). Handles any split of the byte stream.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace syncd {

class LineHints {
 public:
  static constexpr size_t kMaxLineBytes = 64 << 10;  // a CouchDB cluster's sequences are long

  explicit LineHints(std::function<void()> on_hint, size_t max_line_bytes = kMaxLineBytes)
      : on_hint_(std::move(on_hint)), max_line_bytes_(max_line_bytes) {}

  std::optional<std::string> feed(std::string_view bytes);

 private:
  std::function<void()> on_hint_;
  size_t max_line_bytes_;
  size_t line_bytes_ = 0;   // of the current line, whitespace left out
  size_t line_length_ = 0;  // of the current line, all bytes
  std::optional<std::string> error_;
};

}  // namespace syncd
