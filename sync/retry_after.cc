#include "sync/retry_after.h"

#include <time.h>

#include <array>
#include <cctype>
#include <string>

namespace syncd {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses `value` with one strptime format; all of it must be consumed.
std::optional<int64_t> with_format(const std::string& value, const char* format) {
  tm parts{};
  const char* end = strptime(value.c_str(), format, &parts);
  if (end == nullptr || *end != '\0') return std::nullopt;
  time_t seconds = timegm(&parts);
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(seconds) * 1000;
}

}  // namespace

std::optional<int64_t> parse_http_date_ms(std::string_view value) {
  std::string text(trim(value));
  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
  // RFC 850:     Sunday, 06-Nov-94 08:49:37 GMT
  // asctime:     Sun Nov  6 08:49:37 1994
  static constexpr std::array<const char*, 3> kFormats = {
      "%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"};
  for (const char* format : kFormats) {
    if (auto ms = with_format(text, format)) return ms;
  }
  return std::nullopt;
}

std::optional<int64_t> parse_retry_after_ms(std::string_view value, int64_t now_ms) {
  std::string_view v = trim(value);
  if (v.empty()) return std::nullopt;
  bool digits = true;
  for (char c : v) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (digits) {
    if (v.size() > 9) return int64_t{999'999'999} * 1000;  // absurdly long: clamp
    int64_t seconds = 0;
    for (char c : v) seconds = seconds * 10 + (c - '0');
    return seconds * 1000;
  }
  std::optional<int64_t> date = parse_http_date_ms(v);
  if (!date) return std::nullopt;
  return *date > now_ms ? *date - now_ms : 0;
}

}  // namespace syncd
