#pragma once
// Linux route, address and link changes, from a NETLINK_ROUTE socket watched by the
// loop. Any burst of messages means "the network may have changed": the sync engine
// probes at once instead of waiting out its backoff. Some sandboxes have no netlink;
// start() then says why and connectivity rests on probes and request outcomes.
#include <uv.h>

#include <functional>
#include <optional>
#include <string>

namespace syncd {

class NetlinkMonitor {
 public:
  NetlinkMonitor(uv_loop_t* loop, std::function<void()> on_change)
      : loop_(loop), on_change_(std::move(on_change)) {}
  ~NetlinkMonitor();
  NetlinkMonitor(const NetlinkMonitor&) = delete;
  NetlinkMonitor& operator=(const NetlinkMonitor&) = delete;

  // nullopt once watching; otherwise why netlink is not available.
  std::optional<std::string> start();
  // Stops watching; `done` runs once the poll handle is closed (at once if never started).
  void close(std::function<void()> done);

 private:
  static void on_readable(uv_poll_t* handle, int status, int events);

  uv_loop_t* loop_;
  std::function<void()> on_change_;
  std::function<void()> closed_;
  uv_poll_t poll_{};
  int fd_ = -1;
  bool polling_ = false;
};

}  // namespace syncd
