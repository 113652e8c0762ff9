#pragma once
// What the sync engine has done since start, for `metrics`: requests to the remote by
// outcome and how long each took, dead letters, and conflicts by strategy and outcome.
// The engine alone writes it, on the loop; readers take a look between turns.
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "sync/remote_protocol.h"
#include "util/histogram.h"

namespace syncd {

struct SyncCounters {
  // By outcome: ok, unreachable, retryable, rejected, unauthorised (outcome_of).
  std::map<std::string, uint64_t> pushes;
  std::map<std::string, uint64_t> pulls;
  Histogram push_seconds = latency_histogram();
  Histogram pull_seconds = latency_histogram();
  uint64_t dead_letters = 0;
  // By (strategy, outcome), as the resolution log names them.
  std::map<std::pair<std::string, std::string>, uint64_t> conflicts;

  static Histogram latency_histogram();
  static const char* outcome_of(const Answer& answer);
};

}  // namespace syncd
