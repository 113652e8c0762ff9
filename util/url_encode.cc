#include "util/url_encode.h"

#include <algorithm>
#include <cctype>

namespace syncd {

std::string url_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string url_without_user_info(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = url.find_first_of("/?#", start);
  const size_t at = url.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + url.substr(at + 1);
}

std::string url_host(const std::string& url) {
  const std::string bare = url_without_user_info(url);
  const size_t scheme = bare.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = std::min(bare.size(), bare.find_first_of("/?#", start));
  std::string authority = bare.substr(start, end - start);
  std::string host;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    host = authority.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "localhost.") return true;
  // 127.a.b.c, each part a decimal number: "127.evil.example" is a name, not loopback.
  if (host.rfind("127.", 0) != 0) return false;
  int parts = 2;  // "127" and the one that begins after its dot
  bool digit_seen = false;
  for (size_t i = 4; i < host.size(); ++i) {
    if (host[i] == '.') {
      if (!digit_seen) return false;
      ++parts;
      digit_seen = false;
    } else if (std::isdigit(static_cast<unsigned char>(host[i]))) {
      digit_seen = true;
    } else {
      return false;
    }
  }
  return parts == 4 && digit_seen;
}

}  // namespace syncd
