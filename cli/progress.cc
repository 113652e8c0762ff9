#include "cli/progress.h"

#include <algorithm>
#include <cmath>

#include "cli/status_view.h"

namespace syncd {

void DrainProgress::update(int64_t remaining, int64_t now_ms) {
  remaining_ = std::max<int64_t>(0, remaining);
  sent_ = std::max(sent_, total_ - remaining_);
  total_ = sent_ + remaining_;
  now_ms_ = now_ms;
}

double DrainProgress::rate() const {
  const int64_t elapsed = now_ms_ - start_ms_;
  if (elapsed < 100 || remaining_ < 0) return 0;
  return static_cast<double>(sent_) * 1000.0 / static_cast<double>(elapsed);
}

std::string DrainProgress::tail(const char* separator) const {
  const double r = rate();
  std::string out = std::to_string(static_cast<int64_t>(std::llround(r))) + "/s";
  if (drained()) return out + separator + "done";
  if (r > 0) {
    const auto left_ms = static_cast<int64_t>(static_cast<double>(remaining_) / r * 1000.0);
    out += separator + ("about " + span_text(std::max<int64_t>(left_ms, 1000)) + " left");
  }
  return out;
}

std::string DrainProgress::bar(int width) const {
  const int64_t done = sent_;
  const int filled = total_ > 0 ? static_cast<int>(done * width / total_) : (drained() ? width : 0);
  std::string out = "[" + std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(width - filled), '.') + "]  " +
                    std::to_string(done) + "/" + std::to_string(total_) + "  ";
  return out + tail("  ");
}

std::string DrainProgress::line() const {
  return std::to_string(sent_) + " of " + std::to_string(total_) + " sent, " + tail(", ");
}

}  // namespace syncd
