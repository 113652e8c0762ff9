#pragma once
// A loopback address to listen on, as config's metrics.listen gives it: "127.0.0.1:9464",
// "[::1]:9464" or "localhost:9464" (which is 127.0.0.1). Only loopback: what listens there
// is unauthenticated, so nothing off the machine may reach it.
#include <optional>
#include <string>
#include <string_view>

namespace syncd {

struct ListenAddress {
  std::string host;  // numeric: 127.x.y.z or ::1
  int port = 0;      // 1-65535
  bool ipv6 = false;
};

// The address, or why `text` is not a loopback address with a port.
std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string* error);

}  // namespace syncd
