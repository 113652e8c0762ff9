#pragma once
// The last lsn synced to the journal, in a small file of its own next to it, written
// after every sync and before the writes are acknowledged. It goes to the page cache
// only (a kill -9 keeps it, a power loss may not): its job is to tell, at the next start,
// how far the journal must reach, so that a journal file damaged, truncated or deleted
// after a crash shows as a named range of lost writes instead of silence.
#include <cstdint>
#include <optional>
#include <string>

namespace syncd {

class JournalMark {
 public:
  // The lsn the file holds, or nullopt when it is missing or does not check.
  static std::optional<uint64_t> read(const std::string& path);

  // Opens (creating, mode 0600) the file. Throws SqliteError when it cannot.
  explicit JournalMark(std::string path);
  ~JournalMark();
  JournalMark(const JournalMark&) = delete;
  JournalMark& operator=(const JournalMark&) = delete;

  // One pwrite; false when it failed (the mark then lags: an advisory record, so the
  // caller only counts it).
  bool write(uint64_t lsn);

  static constexpr size_t kBytes = 16;  // magic, lsn, crc32c of both (little endian)

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace syncd
