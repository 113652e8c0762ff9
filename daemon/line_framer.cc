#include "daemon/line_framer.h"

#include <algorithm>
#include <cstring>

namespace syncd {

bool LineFramer::feed(std::string_view bytes,
                      const std::function<void(std::string_view)>& on_line) {
  if (overflowed_) return false;
  if (start_ > 0) {  // only a partial frame is kept across reads
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    scan_ -= start_;
    start_ = 0;
  }
  const size_t needed = buffer_.size() + bytes.size();
  if (needed > buffer_.capacity()) {
    // Grown by doubling, a buffer near the limit would hold up to twice it; the limit
    // (and one read past it) is all a stalled half frame may cost. (A vector, as
    // std::string::reserve doubles too.)
    buffer_.reserve(
        std::max(needed, std::min(2 * buffer_.capacity(), max_line_bytes_ + kReadBytes)));
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
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
  if (start_ == buffer_.size()) {
    // Everything was a whole frame: a client that sent one large frame keeps no memory.
    buffer_.clear();
    start_ = scan_ = 0;
    if (buffer_.capacity() > kKeepBytes) buffer_.shrink_to_fit();
  }
  return true;
}

}  // namespace syncd
