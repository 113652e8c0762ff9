#include "daemon/state_dir.h"

#include "util/file_mode.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace syncd {
namespace {
void make_dirs(const std::string& dir) {
  std::string path;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    if (path.empty()) continue;
    if (::mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) {
      throw std::runtime_error("cannot create state dir " + path + ": " + std::strerror(errno));
    }
  }
}
}  // namespace

std::vector<std::string> make_database_files_private(const std::string& dir) {
  std::vector<std::string> narrowed;
  const std::string db = dir + "/syncd.db";
  const int fd = ::open(db.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return narrowed;  // a new database: SQLite makes -wal and -shm like it
  }
  if (errno != EEXIST)
    throw std::runtime_error("cannot create " + db + ": " + std::strerror(errno));
  for (const std::string& path : {db, db + "-wal", db + "-shm"}) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) == 0) continue;
    const std::string mode = octal_mode(st.st_mode & 0777);
    if (::chmod(path.c_str(), 0600) != 0) {
      throw std::runtime_error(path + " is mode " + mode +
                               " and cannot be narrowed to 0600: " + std::strerror(errno));
    }
    narrowed.push_back(path + " was mode " + mode + " (readable by group or others): now 0600");
  }
  return narrowed;
}

StateDirLock::StateDirLock(const std::string& dir) {
  make_dirs(dir);
  std::string path = dir + "/syncd.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = {};
    ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (err == EWOULDBLOCK) {
      throw std::runtime_error("another syncd" + (holder.empty() ? "" : " (pid " + holder + ")") +
                               " is running on state dir " + dir);
    }
    throw std::runtime_error("cannot lock " + path + ": " + std::strerror(err));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // The lock is what matters; the pid is a courtesy for the error message above.
  }
}

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace syncd
