#pragma once
// The state directory and its exclusive lock (flock on <dir>/syncd.lock, holding our
// pid), so two daemons never share one database.
#include <string>

namespace syncd {

class StateDirLock {
 public:
  // Creates the directory (mode 0750) if needed and takes the lock. Throws
  // std::runtime_error naming the directory and, when known, the pid holding it.
  explicit StateDirLock(const std::string& dir);
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace syncd
