#include "daemon/socket_activation.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace syncd {

std::optional<ActivatedSocket> take_activated_socket() {
  const int n = sd_listen_fds(1);
  if (n < 0) {
    throw std::runtime_error(std::string("socket activation: LISTEN_FDS: ") + std::strerror(-n));
  }
  if (n == 0) return std::nullopt;
  if (n > 1) {
    throw std::runtime_error("socket activation: systemd passed " + std::to_string(n) +
                             " sockets; syncd takes one (one ListenStream= in syncd.socket)");
  }
  const int fd = SD_LISTEN_FDS_START;
  if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
    throw std::runtime_error(
        "socket activation: the socket systemd passed (fd 3) is not a listening Unix stream "
        "socket; syncd.socket needs ListenStream=/path/to/syncd.sock");
  }
  ActivatedSocket socket{fd, ""};
  sockaddr_un address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    length = std::min<socklen_t>(length, sizeof address);  // Linux may count a NUL beyond
  } else {
    length = 0;
  }
  if (length > offsetof(sockaddr_un, sun_path) && address.sun_path[0] != '\0') {
    socket.path.assign(address.sun_path,
                       ::strnlen(address.sun_path, length - offsetof(sockaddr_un, sun_path)));
  }
  return socket;
}

}  // namespace syncd
