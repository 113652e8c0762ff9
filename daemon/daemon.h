#pragma once
// One syncd process: takes the state-dir lock, opens the store, serves the socket on one
// libuv loop, and handles signals (SIGTERM/SIGINT: stop gracefully; SIGHUP: reload the
// config) and systemd readiness and watchdog notifications.
#include <functional>
#include <string>

#include "config/config.h"

namespace syncd {

struct DaemonOptions {
  Config config;
  std::string config_path;                 // empty: embedded defaults, nothing to reload
  std::function<void(Config&)> overrides;  // command-line flags, re-applied on reload
};

// Runs until stopped; returns the process exit code. Start-up failures are logged with
// what is wrong and give exit code 1.
int run_daemon(DaemonOptions options);

}  // namespace syncd
