#pragma once
// Socket activation: the listening socket systemd passes (syncd.socket, sd_listen_fds),
// taken once at start. The environment that passed it is unset, so no child inherits it.
#include <optional>
#include <string>

namespace syncd {

struct ActivatedSocket {
  int fd = -1;
  std::string path;  // the socket's file, from getsockname ("" when it has none)
};

// The socket systemd passed, or nothing when it passed none (syncd then binds its own).
// Throws std::runtime_error naming what is wrong when it passed more than one or one that
// is not a listening Unix stream socket.
std::optional<ActivatedSocket> take_activated_socket();

}  // namespace syncd
