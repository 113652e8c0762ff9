#include "daemon/line_framer.h"

#include <cstring>

namespace syncd {

bool LineFramer::feed(std::string_view bytes,
                      const std::function<void(std::string_view)>& on_line) {
  if (overflowed_) return false;
  buffer_.append(bytes.data(), bytes.size());
  while (true) {
    const char* base = buffer_.data();
    const void* nl = std::memchr(base + scan_, '\n', buffer_.size() - scan_);
    if (nl == nullptr) break;
    size_t end = static_cast<size_t>(static_cast<const char*>(nl) - base);
    size_t length = end - start_;
    if (length > max_line_bytes_) {
      overflowed_ = true;
      return false;
    }
    std::string_view line(base + start_, length);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start_ = scan_ = end + 1;
    on_line(line);
  }
  scan_ = buffer_.size();
  if (buffer_.size() - start_ > max_line_bytes_) {
    overflowed_ = true;
    return false;
  }
  // Compact once the consumed prefix dominates, so the buffer stays O(max frame).
  if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    scan_ -= start_;
    start_ = 0;
  }
  return true;
}

}  // namespace syncd
