#pragma once
// Keeps a log readable when the same line comes again and again (a thousand identical
// connection failures): a line is let through the first time, then counted while it
// repeats within `window_ms`; the first repeat after the window is let through with the
// count of those held back. Lines are told apart by their text with every number as
// one placeholder ("after 0 ms" and "after 1 ms" are the same failure) and without the
// server's text after "HTTP NNN: "; at most kMaxLines different ones are remembered (the
// oldest is forgotten first, its count kept for flush()). Pure: time is passed in.
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace syncd {

class RepeatLimiter {
 public:
  static constexpr size_t kMaxLines = 64;
  explicit RepeatLimiter(int64_t window_ms) : window_ms_(window_ms) {}

  // The text to log for `line` now, or nullopt to hold it back.
  std::optional<std::string> admit(const std::string& text, int64_t now_ms);
  // The counts held back so far, one line each, and forgets every line (the run of
  // failures has ended: the next one is news).
  std::vector<std::string> flush(int64_t now_ms);

 private:
  static std::string with_count(const std::string& line, int64_t held_back, int64_t seconds);
  struct Seen {
    int64_t shown_at_ms = 0;
    int64_t held_back = 0;
    std::list<std::string>::iterator age;
    std::string last;  // the newest text of this shape, for the count's line
  };
  int64_t window_ms_;
  std::unordered_map<std::string, Seen> seen_;
  std::list<std::string> by_age_;  // oldest first
  // Counts of lines forgotten while they held repeats back, for flush(); past kMaxLines
  // of them, only their sum.
  std::vector<std::string> forgotten_;
  int64_t forgotten_overflow_ = 0;
};

}  // namespace syncd
