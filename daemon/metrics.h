#pragma once
// Counters the daemon keeps since start, reported by the `metrics` method.
#include <cstdint>

#include "util/json.h"

namespace syncd {

struct Metrics {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t connections_refused = 0;  // over ipc.max_clients or not allowed by SO_PEERCRED
  uint64_t requests = 0;
  uint64_t request_errors = 0;
  uint64_t frames_oversize = 0;
  uint64_t slow_reader_disconnects = 0;
  uint64_t writes = 0;            // acknowledged put/patch/delete
  uint64_t commits = 0;           // group-commit transactions with at least one write
  uint64_t commit_batch_max = 0;  // most writes in one transaction
  uint64_t storage_errors = 0;
  uint64_t notifications = 0;

  void to_json(JsonValue& out, JsonAllocator& alloc) const;
};

}  // namespace syncd
