#include "config/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace syncd {

std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<ListenAddress> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  ListenAddress out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("expected [ADDRESS]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    out.ipv6 = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected ADDRESS:PORT, e.g. 127.0.0.1:9464");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail("an IPv6 address goes in brackets");
  }
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || out.port < 1 ||
      out.port > 65535) {
    return fail("expected a port from 1 to 65535 after the address");
  }
  out.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  if (out.ipv6) {
    in6_addr a6{};
    if (inet_pton(AF_INET6, out.host.c_str(), &a6) != 1) return fail("not an IPv6 address");
    if (!IN6_IS_ADDR_LOOPBACK(&a6)) return fail("not a loopback address (::1): only loopback");
    out.host = "::1";
    return out;
  }
  in_addr a4{};
  if (inet_pton(AF_INET, out.host.c_str(), &a4) != 1) {
    return fail("not a numeric address (or localhost)");
  }
  if ((ntohl(a4.s_addr) >> 24) != 127)
    return fail("not a loopback address (127.0.0.0/8): only loopback");
  return out;
}

}  // namespace syncd
