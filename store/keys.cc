#include "store/keys.h"

namespace syncd {
namespace {
// Length of the UTF-8 sequence starting at s[i], or 0 when it is not well formed.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  uint32_t cp = c & (0xff >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  if (cp >= 0x80 && cp < 0xa0) return 0;  // C1 control characters
  return len;
}
}  // namespace

std::optional<std::string> check_key(std::string_view key, std::string_view what) {
  std::string name(what);
  if (key.empty()) return name + " is empty";
  if (key.size() > kMaxKeyBytes) {
    return name + " is " + std::to_string(key.size()) + " bytes, more than " +
           std::to_string(kMaxKeyBytes);
  }
  for (size_t i = 0; i < key.size();) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c < 0x20 || c == 0x7f) {
      return name + " has a control character at byte " + std::to_string(i);
    }
    size_t len = utf8_sequence_length(key, i);
    if (len == 0) return name + " is not valid UTF-8 at byte " + std::to_string(i);
    i += len;
  }
  return std::nullopt;
}

}  // namespace syncd
