#pragma once
// The state directory and its exclusive lock (flock on <dir>/syncd.lock, holding our
// pid), so two daemons never share one database.
#include <string>
#include <vector>

namespace syncd {

// The database holds the users' documents: its files are the daemon user's alone. Creates
// <dir>/syncd.db mode 0600 when it does not exist (SQLite gives -wal and -shm the mode of
// the database file), and narrows an existing syncd.db, -wal or -shm that group or
// others may read to 0600. Returns one line per file it narrowed, for the log. Throws
// std::runtime_error naming the file when it can do neither.
std::vector<std::string> make_database_files_private(const std::string& dir);

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
