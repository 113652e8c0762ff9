#include "store/journal_mark.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/sqlite.h"
#include "util/crc32c.h"
#include "util/little_endian.h"

namespace syncd {
namespace {

constexpr uint32_t kMagic = 0x4b52414d;  // "MARK"

uint32_t mark_crc(const char* bytes) { return crc32c(0, bytes, 12); }

}  // namespace

std::optional<uint64_t> JournalMark::read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char bytes[kBytes];
  const ssize_t n = ::pread(fd, bytes, sizeof bytes, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(kBytes) || load_le<uint32_t>(bytes) != kMagic ||
      load_le<uint32_t>(bytes + 12) != mark_crc(bytes)) {
    return std::nullopt;
  }
  return load_le<uint64_t>(bytes + 4);
}

JournalMark::JournalMark(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw SqliteError(SQLITE_CANTOPEN, "journal mark " + path_ + ": open: " + std::strerror(errno));
  }
}

JournalMark::~JournalMark() {
  if (fd_ >= 0) ::close(fd_);
}

bool JournalMark::write(uint64_t lsn) {
  char bytes[kBytes];
  store_le(bytes, kMagic);
  store_le(bytes + 4, lsn);
  store_le(bytes + 12, mark_crc(bytes));
  // 16 bytes inside one page: the kernel never leaves half of them.
  return ::pwrite(fd_, bytes, sizeof bytes, 0) == static_cast<ssize_t>(kBytes);
}

}  // namespace syncd
