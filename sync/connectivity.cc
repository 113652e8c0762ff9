#include "sync/connectivity.h"

#include "util/logger.h"

namespace syncd {

const char* to_string(Connectivity c) {
  switch (c) {
    case Connectivity::online:
      return "online";
    case Connectivity::degraded:
      return "degraded";
    case Connectivity::offline:
      return "offline";
  }
  return "?";
}

void ConnectivityTracker::succeeded() { become(Connectivity::online, ""); }

void ConnectivityTracker::failed(bool unreachable, const std::string& reason) {
  become(unreachable ? Connectivity::offline : Connectivity::degraded, reason);
}

void ConnectivityTracker::become(Connectivity next, const std::string& reason) {
  if (next == state_ && reported_) return;
  if (next != state_) since_ms_ = clock_.now_ms();
  if (next == Connectivity::offline) {
    reachable_since_ms_.reset();
  } else if (!reachable_since_ms_) {
    reachable_since_ms_ = clock_.now_ms();
  }
  state_ = next;
  reported_ = true;
  if (next == Connectivity::online) {
    log_info("sync: online", {{"connectivity", std::string("online")}});
  } else {
    log_warning(std::string("sync: ") + to_string(next) + ": " + reason,
                {{"connectivity", std::string(to_string(next))}, {"reason", reason}});
  }
}

}  // namespace syncd
