#pragma once
// Whether the remote can be reached, as requests and health probes find it: online (it
// answers as expected), degraded (it answers, badly), offline (no connection could be
// made; the engine then probes health, with backoff, until one answers, or at once when
// the network changes). Each change of state is logged once, with its reason.
#include <string>

namespace syncd {

enum class Connectivity { online, degraded, offline };
const char* to_string(Connectivity c);

class ConnectivityTracker {
 public:
  Connectivity state() const { return state_; }
  bool offline() const { return state_ == Connectivity::offline; }
  // A request or a probe got the answer it asked for.
  void succeeded();
  // One failed: `unreachable` when no connection could be made.
  void failed(bool unreachable, const std::string& reason);

 private:
  void become(Connectivity next, const std::string& reason);

  Connectivity state_ = Connectivity::offline;
  bool reported_ = false;  // the first state found is logged even when it is the initial one
};

}  // namespace syncd
