#pragma once
// Whether the remote can be reached, as requests and health probes find it: online (it
// answers as expected), degraded (it answers, badly), offline (no connection could be
// made; the engine then probes health, with backoff, until one answers, or at once when
// the network changes). Each change of state is logged once, with its reason, and its
// time kept for status ("offline since ...").
#include <cstdint>
#include <optional>
#include <string>

#include "util/clock.h"

namespace syncd {

enum class Connectivity { online, degraded, offline };
const char* to_string(Connectivity c);

class ConnectivityTracker {
 public:
  explicit ConnectivityTracker(const Clock& clock) : clock_(clock), since_ms_(clock.now_ms()) {}
  Connectivity state() const { return state_; }
  // When the current state began (wall clock, ms); the start for the first one.
  int64_t since_ms() const { return since_ms_; }
  // Since when the remote has answered at all (online or degraded, wall clock, ms);
  // nullopt while offline. Going between online and degraded does not reset it.
  std::optional<int64_t> reachable_since_ms() const { return reachable_since_ms_; }
  bool offline() const { return state_ == Connectivity::offline; }
  // A request or a probe got the answer it asked for.
  void succeeded();
  // One failed: `unreachable` when no connection could be made.
  void failed(bool unreachable, const std::string& reason);

 private:
  void become(Connectivity next, const std::string& reason);

  const Clock& clock_;
  Connectivity state_ = Connectivity::offline;
  int64_t since_ms_;
  std::optional<int64_t> reachable_since_ms_;
  bool reported_ = false;  // the first state found is logged even when it is the initial one
};

}  // namespace syncd
