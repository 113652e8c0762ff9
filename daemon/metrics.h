#pragma once
// Counters the daemon keeps since start, reported by the `metrics` method.
#include <cstdint>
#include <vector>

#include "util/histogram.h"
#include "util/json.h"

namespace syncd {

struct Metrics {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t connections_refused = 0;      // over ipc.max_clients or not allowed by SO_PEERCRED
  uint64_t connections_refused_uid = 0;  // over ipc.max_clients_per_uid (also counted above)
  uint64_t subscriptions_refused = 0;    // over ipc.max_subscriptions
  uint64_t requests = 0;
  uint64_t request_errors = 0;
  uint64_t frames_oversize = 0;
  uint64_t slow_reader_disconnects = 0;
  uint64_t writes = 0;            // acknowledged put/patch/delete
  uint64_t commits = 0;           // group-commit transactions with at least one write
  uint64_t commit_batch_max = 0;  // most writes in one transaction
  uint64_t storage_errors = 0;
  uint64_t notifications = 0;
  // Times a client with more writes to work waited for the journal applier to catch up
  // (docs/OPERATIONS.md, "Writers paced to the applier").
  uint64_t writers_paced = 0;

  // Output budgets (docs/PROTOCOL.md): slow_reader_disconnects above counts the clients
  // cut off by ipc.max_total_output_bytes.
  uint64_t output_bytes = 0;           // unsent output held for all clients, now
  uint64_t output_bytes_max = 0;       // the most it has been
  uint64_t notifications_dropped = 0;  // not sent to subscribers over ipc.max_output_bytes
  uint64_t gaps = 0;                   // gap notifications that told them
  uint64_t memory_trims = 0;           // freed output memory given back (malloc_trim)

  // Writes per group commit (Prometheus syncd_commit_writes).
  Histogram commit_writes{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};

  // Each counter with its name, whether it only grows (a Prometheus counter) or goes up
  // and down (a gauge), and what it counts: the one list `metrics` renders either way.
  struct Entry {
    const char* name;
    uint64_t value;
    bool counter;
    const char* help;
  };
  std::vector<Entry> entries() const;
  void to_json(JsonValue& out, JsonAllocator& alloc) const;
};

}  // namespace syncd
