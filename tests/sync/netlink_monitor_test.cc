#include "sync/netlink_monitor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

namespace syncd {
namespace {

// Adds and removes a loopback address (needs CAP_NET_ADMIN) and expects the monitor to
// report a change.
TEST(NetlinkMonitor, ReportsAnAddressChange) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int changes = 0;
  NetlinkMonitor monitor(&loop, [&] { ++changes; });
  if (auto why = monitor.start()) {
    uv_loop_close(&loop);
    GTEST_SKIP() << "netlink unavailable here: " << *why;
  }
  if (std::system("ip addr add 127.0.0.77/32 dev lo 2>/dev/null") != 0) {
    monitor.close(nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    GTEST_SKIP() << "cannot change addresses here (not root, or no ip)";
  }
  std::system("ip addr del 127.0.0.77/32 dev lo 2>/dev/null");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (changes == 0 && std::chrono::steady_clock::now() < deadline) {
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(1000);  // poll interval while waiting on the condition, not a synchronisation
  }
  EXPECT_GE(changes, 1);
  bool closed = false;
  monitor.close([&] { closed = true; });
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_TRUE(closed);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace syncd
