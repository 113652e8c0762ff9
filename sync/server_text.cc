#include "sync/server_text.h"

#include <algorithm>

namespace syncd {

std::string server_text(std::string_view text, size_t max_bytes) {
  std::string out;
  const size_t n = std::min(text.size(), max_bytes);
  out.reserve(n + 3);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else {
      out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
    }
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

}  // namespace syncd
