#include "sync/netlink_monitor.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace syncd {

NetlinkMonitor::~NetlinkMonitor() {
  if (fd_ >= 0 && !polling_) ::close(fd_);
}

std::optional<std::string> NetlinkMonitor::start() {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd_ < 0) return std::string("netlink socket: ") + std::strerror(errno);
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups =
      RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string error = std::string("netlink bind: ") + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return error;
  }
  int rc = uv_poll_init_socket(loop_, &poll_, fd_);
  if (rc != 0) {
    ::close(fd_);
    fd_ = -1;
    return std::string("uv_poll_init_socket: ") + uv_strerror(rc);
  }
  poll_.data = this;
  polling_ = true;
  uv_poll_start(&poll_, UV_READABLE, on_readable);
  return std::nullopt;
}

void NetlinkMonitor::on_readable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<NetlinkMonitor*>(handle->data);
  if (status < 0) return;
  char buffer[8192];
  bool any = false;
  // Drain everything queued: one notification per burst is enough.
  while (::recv(self->fd_, buffer, sizeof buffer, 0) > 0) any = true;
  if (any) self->on_change_();
}

void NetlinkMonitor::close(std::function<void()> done) {
  if (!polling_) {
    if (done) done();
    return;
  }
  closed_ = std::move(done);
  uv_poll_stop(&poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), [](uv_handle_t* h) {
    auto* self = static_cast<NetlinkMonitor*>(h->data);
    ::close(self->fd_);
    self->fd_ = -1;
    self->polling_ = false;
    if (self->closed_) self->closed_();
  });
}

}  // namespace syncd
