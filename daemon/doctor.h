#pragma once
// The daemon's half of `syncctl doctor`: the checks only the running daemon can make of
// its setup (its config file as a restart would read it, its state directory's modes and
// free space, what the remote last answered, TLS, the remote's clock, a stuck queue).
// Each finding says what was found and, when it fails, what to do. It reads what it is
// given and the filesystem, and changes nothing.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "queue/mutation_queue.h"
#include "sync/sync_engine.h"

namespace syncd {

struct DoctorFinding {
  enum class Outcome { ok, fail, skipped };
  std::string check;  // socket, config, state_dir, disk, remote, tls, clock, queue
  Outcome outcome = Outcome::ok;
  std::string detail;  // what was found
  std::string fix;     // what to do; empty unless it failed
};

const char* to_string(DoctorFinding::Outcome outcome);

// What the daemon runs with, set at start.
struct DoctorSetup {
  std::string config_path;  // empty: the embedded default config
  // Reads the config file as SIGHUP and a restart would; throws saying what is wrong.
  std::function<void()> reread_config;
  std::string state_dir;
  std::string remote_url;       // without user info
  std::string remote_protocol;  // v1 | couchdb
  bool sends_credentials = false;
  bool allow_insecure_http = false;
  bool tls_insecure_skip_verify = false;
  std::string tls_ca_file;
  size_t tls_pinned_pubkeys = 0;
  bool tls_client_cert = false;
};

// What the daemon sees now.
struct DoctorState {
  SyncStatus sync;
  QueueCounts queue;
  std::optional<int64_t> oldest_pending_created_ms;
  int64_t now_ms = 0;  // wall clock
};

// Where a finding turns into a failure (documented in docs/OPERATIONS.md).
struct DoctorLimits {
  int64_t max_clock_skew_ms = 30000;
  // The oldest pending mutation waited this long while syncd was online.
  int64_t stuck_after_ms = 10 * 60 * 1000;
  // Free space below this, or below the store's own size (a checkpoint needs room).
  int64_t min_free_bytes = int64_t{256} << 20;
};

std::vector<DoctorFinding> examine(const DoctorSetup& setup, const DoctorState& state,
                                   const DoctorLimits& limits = {});

}  // namespace syncd
