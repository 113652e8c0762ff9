#include "util/repeat_limiter.h"

namespace syncd {

std::string RepeatLimiter::with_count(const std::string& line, int64_t held_back, int64_t seconds) {
  if (held_back == 0) return line;
  return line + " (and " + std::to_string(held_back) + " times more in the " +
         std::to_string(seconds) + " s before)";
}

std::optional<std::string> RepeatLimiter::admit(const std::string& line, int64_t now_ms) {
  auto it = seen_.find(line);
  if (it == seen_.end()) {
    if (seen_.size() >= kMaxLines) {
      seen_.erase(by_age_.front());
      by_age_.pop_front();
    }
    by_age_.push_back(line);
    seen_.emplace(line, Seen{now_ms, 0, std::prev(by_age_.end())});
    return line;
  }
  Seen& s = it->second;
  by_age_.splice(by_age_.end(), by_age_, s.age);  // most recently seen last
  if (now_ms - s.shown_at_ms < window_ms_) {
    ++s.held_back;
    return std::nullopt;
  }
  std::string text = with_count(line, s.held_back, (now_ms - s.shown_at_ms) / 1000);
  s.shown_at_ms = now_ms;
  s.held_back = 0;
  return text;
}

std::vector<std::string> RepeatLimiter::flush(int64_t now_ms) {
  std::vector<std::string> lines;
  for (const std::string& line : by_age_) {
    const Seen& s = seen_[line];
    if (s.held_back > 0)
      lines.push_back(with_count(line, s.held_back, (now_ms - s.shown_at_ms) / 1000));
  }
  seen_.clear();  // a failure after this is news again
  by_age_.clear();
  return lines;
}

}  // namespace syncd
