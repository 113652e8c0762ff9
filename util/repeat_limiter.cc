#include "util/repeat_limiter.h"

namespace syncd {

std::string RepeatLimiter::with_count(const std::string& line, int64_t held_back, int64_t seconds) {
  if (held_back == 0) return line;
  return line + " (and " + std::to_string(held_back) + (held_back == 1 ? " time" : " times") +
         " more in the " + std::to_string(seconds) + " s before)";
}

namespace {

// Lines that differ only in their numbers ("after 1 ms", "after 0 ms") are one failure,
// and so are answers with the same status whose bodies differ (a request id in an error
// page): what follows "HTTP NNN: " is the server's text, left out of the key.
std::string shape_of(const std::string& line) {
  std::string_view text = line;
  for (size_t at = text.find("HTTP "); at != std::string_view::npos;
       at = text.find("HTTP ", at + 1)) {
    size_t end = at + 5;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end > at + 5 && text.substr(end, 2) == ": ") {
      text = text.substr(0, end);
      break;
    }
  }
  std::string shape;
  shape.reserve(text.size());
  for (char c : text) {
    const bool digit = c >= '0' && c <= '9';
    if (!digit) {
      shape += c;
    } else if (shape.empty() || shape.back() != '#') {
      shape += '#';
    }
  }
  return shape;
}

}  // namespace

std::optional<std::string> RepeatLimiter::admit(const std::string& text, int64_t now_ms) {
  const std::string line = shape_of(text);  // the key
  auto it = seen_.find(line);
  if (it == seen_.end()) {
    if (seen_.size() >= kMaxLines) {
      // The repeats the forgotten line held back are kept for flush(), so no count is lost.
      const Seen& old = seen_[by_age_.front()];
      if (old.held_back > 0) {
        if (forgotten_.size() < kMaxLines) {
          forgotten_.push_back(
              with_count(old.last, old.held_back, (now_ms - old.shown_at_ms) / 1000));
        } else {
          forgotten_overflow_ += old.held_back;
        }
      }
      seen_.erase(by_age_.front());
      by_age_.pop_front();
    }
    by_age_.push_back(line);
    seen_.emplace(line, Seen{now_ms, 0, std::prev(by_age_.end()), text});
    return text;
  }
  Seen& s = it->second;
  by_age_.splice(by_age_.end(), by_age_, s.age);  // most recently seen last
  if (now_ms - s.shown_at_ms < window_ms_) {
    ++s.held_back;
    s.last = text;
    return std::nullopt;
  }
  std::string shown = with_count(text, s.held_back, (now_ms - s.shown_at_ms) / 1000);
  s.shown_at_ms = now_ms;
  s.held_back = 0;
  s.last = text;
  return shown;
}

std::vector<std::string> RepeatLimiter::flush(int64_t now_ms) {
  std::vector<std::string> lines = std::move(forgotten_);
  forgotten_.clear();
  if (forgotten_overflow_ > 0) {
    lines.push_back("and " + std::to_string(forgotten_overflow_) +
                    " repeats of failures of other kinds");
    forgotten_overflow_ = 0;
  }
  for (const std::string& shape : by_age_) {
    const Seen& s = seen_[shape];
    if (s.held_back > 0) {
      lines.push_back(with_count(s.last, s.held_back, (now_ms - s.shown_at_ms) / 1000));
    }
  }
  seen_.clear();  // a failure after this is news again
  by_age_.clear();
  return lines;
}

}  // namespace syncd
