#include "store/journal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "store/sqlite.h"
#include "util/crc32c.h"
#include "util/little_endian.h"

namespace syncd {
namespace {

// The checksum covers the length and lsn as well as the payload, so a stale or torn
// header cannot pass for a record.
uint32_t record_crc(uint32_t length, uint64_t lsn, const char* payload) {
  char fields[12];
  store_le(fields, length);
  store_le(fields + 4, lsn);
  return crc32c(crc32c(0, fields, sizeof fields), payload, length);
}

[[noreturn]] void fail(const std::string& path, const std::string& doing, int err) {
  throw SqliteError(err == ENOSPC || err == EDQUOT ? SQLITE_FULL : SQLITE_IOERR,
                    "journal " + path + ": " + doing + ": " + std::strerror(err));
}

}  // namespace

namespace {

// The lsns a record found past damage may have: above `above`, at most `last`.
struct LsnRange {
  uint64_t above = 0;
  uint64_t last = UINT64_MAX;
};

// The record at `offset` when one starts there and checks, with an lsn of `lsn` (0: any
// in `range`); its size in the file, or 0.
size_t record_at(const std::string& data, size_t offset, uint64_t lsn, LsnRange range,
                 JournalRecord* out) {
  if (data.size() - offset < Journal::kHeaderBytes) return 0;
  const char* header = data.data() + offset;
  const auto length = load_le<uint32_t>(header);
  if (length == 0 || length > data.size() - offset - Journal::kHeaderBytes) return 0;
  const auto found = load_le<uint64_t>(header + 8);
  if (lsn != 0 ? found != lsn : found <= range.above || found > range.last) return 0;
  const char* payload = header + Journal::kHeaderBytes;
  if (record_crc(length, found, payload) != load_le<uint32_t>(header + 4)) return 0;
  if (out) *out = JournalRecord{found, std::string(payload, length)};
  return Journal::kHeaderBytes + length;
}

}  // namespace

JournalScan Journal::scan(const std::string& path, uint64_t applied_lsn, uint64_t lsn_window) {
  JournalScan scan;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return scan;
    fail(path, "open", errno);
  }
  scan.exists = true;
  // The whole file at once (two reads per record made tens of thousands of syscalls
  // at every start after a busy run); it is a few MiB.
  std::string data;
  struct stat st {};
  if (::fstat(fd, &st) == 0) data.resize(static_cast<size_t>(st.st_size));
  size_t size = 0;
  while (size < data.size()) {
    ssize_t n = ::pread(fd, data.data() + size, data.size() - size, static_cast<off_t>(size));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(size);
  scan.file_bytes = size;
  size_t offset = 0;
  while (offset < size) {
    JournalRecord record;
    const uint64_t next = scan.records.empty() ? 0 : scan.records.back().lsn + 1;
    size_t taken = record_at(data, offset, next, {}, &record);
    if (taken == 0) {
      // The end, or damage: a later record continuing the lsns says which. Stale
      // records from before a rewind are at or below the applied lsn, so they never pass.
      LsnRange range{std::max(applied_lsn, next == 0 ? 0 : next - 1),
                     lsn_window > UINT64_MAX - applied_lsn ? UINT64_MAX : applied_lsn + lsn_window};
      // A file's records have consecutive lsns, so past a record of this file the damage
      // can have hidden no more records than fit in its bytes.
      auto bound = [&](size_t resume) {
        if (next == 0) return range;
        LsnRange r = range;
        r.last = std::min(r.last, next + (resume - offset) / (kHeaderBytes + 1));
        return r;
      };
      size_t resume = offset + 1;
      while (resume < size && (taken = record_at(data, resume, 0, bound(resume), &record)) == 0) {
        ++resume;
      }
      if (taken == 0) break;
      scan.damage.push_back(
          JournalScan::Damage{offset, resume - offset, next == 0 ? 0 : next - 1, record.lsn});
      offset = resume;
    }
    scan.records.push_back(std::move(record));
    offset += taken;
    scan.end_offset = offset;
  }
  return scan;
}

Journal::Journal(std::string path, size_t preallocate_bytes, bool fdatasync)
    : path_(std::move(path)), fdatasync_(fdatasync) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail(path_, "open", errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail(path_, "stat", errno);
  const auto original = static_cast<uint64_t>(st.st_size);
  if (original >= preallocate_bytes) {
    preallocated_ = preallocate_bytes > 0;
    if (preallocated_) open_direct();
    return;
  }
  const std::string zeros(1 << 20, '\0');
  uint64_t at = original;
  while (at < preallocate_bytes) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), preallocate_bytes - at));
    ssize_t written = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(at));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) break;
    at += static_cast<uint64_t>(written);
  }
  if (at >= preallocate_bytes && ::fsync(fd_) == 0) {
    preallocated_ = true;
    open_direct();
    return;
  }
  // No room for it: leave the disk as it was; records extend the file instead.
  if (::ftruncate(fd_, static_cast<off_t>(original)) != 0) fail(path_, "truncate", errno);
}

void Journal::FreeAligned::operator()(char* p) const { std::free(p); }

void Journal::open_direct() {
  // Only over blocks that are already allocated and written (an O_DIRECT write that
  // extends a file waits for its metadata too), and only when a sync is to reach the disk.
  if (!fdatasync_) return;
  const int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT | O_DSYNC);
  if (fd < 0) return;  // EINVAL: the file system has no O_DIRECT; the page cache it is
  // Some file systems open with O_DIRECT and then refuse the writes: write the first
  // block back as it is, so a refusal shows here and not on a client's write.
  char* block = aligned_blocks(kBlockBytes);
  if (::pread(fd, block, kBlockBytes, 0) != static_cast<ssize_t>(kBlockBytes) ||
      ::pwrite(fd, block, kBlockBytes, 0) != static_cast<ssize_t>(kBlockBytes)) {
    ::close(fd);
    return;
  }
  ::close(fd_);
  fd_ = fd;
  direct_ = true;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::append(uint64_t lsn, std::string_view payload) {
  const auto length = static_cast<uint32_t>(payload.size());
  char header[kHeaderBytes];
  store_le(header, length);
  store_le(header + 4, record_crc(length, lsn, payload.data()));
  store_le(header + 8, lsn);
  buffer_.append(header, sizeof header);
  buffer_.append(payload);
}

void Journal::write_at(const char* data, size_t size, uint64_t at) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path_, "write", errno);
    done += static_cast<size_t>(n);
  }
}

char* Journal::aligned_blocks(size_t bytes) {
  if (blocks_capacity_ < bytes) {
    blocks_.reset(static_cast<char*>(std::aligned_alloc(kBlockBytes, bytes)));
    if (!blocks_) throw std::bad_alloc();
    blocks_capacity_ = bytes;
  }
  return blocks_.get();
}

void Journal::write_blocks() {
  // From the start of the block offset_ is in: its synced bytes again (the same bytes, so
  // a torn write of them leaves them as they were), the new records, zeros to the end of
  // the last block.
  const size_t used = tail_.size() + buffer_.size();
  const size_t total = (used + kBlockBytes - 1) / kBlockBytes * kBlockBytes;
  char* out = aligned_blocks(total);
  std::memcpy(out, tail_.data(), tail_.size());
  std::memcpy(out + tail_.size(), buffer_.data(), buffer_.size());
  std::memset(out + used, 0, total - used);
  write_at(out, total, offset_ - tail_.size());
  tail_.assign(out + used / kBlockBytes * kBlockBytes, used % kBlockBytes);
  if (blocks_capacity_ > (256 << 10)) {  // a burst's buffer goes back
    blocks_.reset();
    blocks_capacity_ = 0;
  }
}

void Journal::erase_after_offset(size_t bytes) {
  if (!preallocated_) {
    // The file grew with the records: cut it back (no room is needed for that).
    if (::ftruncate(fd_, static_cast<off_t>(offset_)) != 0) fail(path_, "truncate", errno);
    return;
  }
  if (direct_) {
    buffer_.clear();
    const size_t keep = tail_.size();
    const size_t total = (keep + bytes + kBlockBytes - 1) / kBlockBytes * kBlockBytes;
    char* out = aligned_blocks(total);
    std::memcpy(out, tail_.data(), keep);
    std::memset(out + keep, 0, total - keep);
    write_at(out, total, offset_ - keep);
    return;
  }
  const std::string zeros(bytes, '\0');
  write_at(zeros.data(), zeros.size(), offset_);
}

void Journal::sync() {
  if (buffer_.empty()) return;
  try {
    if (direct_) {
      write_blocks();
    } else {
      write_at(buffer_.data(), buffer_.size(), offset_);
      if (fdatasync_ && ::fdatasync(fd_) != 0) fail(path_, "fdatasync", errno);
    }
  } catch (...) {
    // The caller answers these writes with an error: records of them that reached the
    // file must not come back at the next start. Best effort; the error stands.
    const size_t attempted = buffer_.size();
    buffer_.clear();
    try {
      erase_after_offset(attempted);
    } catch (...) {
    }
    throw;
  }
  offset_ += buffer_.size();
  buffer_.clear();
  if (buffer_.capacity() > (256 << 10)) buffer_.shrink_to_fit();  // a burst's buffer goes back
}

}  // namespace syncd
