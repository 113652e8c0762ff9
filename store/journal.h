#pragma once
// The write-ahead journal of local writes: a file of checksummed records, each carrying a
// log sequence number (lsn) one above the record before it. A turn's records are
// appended in memory and made durable together by sync(), one pwrite and one fdatasync,
// before any of them is acknowledged. The file is filled with zeros ahead of use, so a
// sync writes back data blocks only (the size and block map do not change). Once every
// record is applied to SQLite the writer rewinds to the start; a reader stops at the
// first record that is torn, zero, or not the next lsn (a stale one from before a rewind).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace syncd {

struct JournalRecord {
  uint64_t lsn = 0;
  std::string payload;
};

class Journal {
 public:
  // The valid records from the start of the file (none when it does not exist).
  static std::vector<JournalRecord> read(const std::string& path);

  // Opens (creating) the file for writing at its start. Fills it with zeros up to
  // `preallocate_bytes` when shorter; if the disk cannot hold that, gives the room back
  // and grows the file as records come instead. Without `fdatasync` a sync only writes
  // (store.synchronous=normal: safe from a crash of syncd, not of the machine).
  Journal(std::string path, size_t preallocate_bytes, bool fdatasync = true);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  void append(uint64_t lsn, std::string_view payload);
  // Writes the appended records and waits for the disk. On failure throws SqliteError
  // (SQLITE_FULL for a full disk, else SQLITE_IOERR) naming the file, and drops them.
  void sync();
  // Drops the records appended since the last sync.
  void discard() { buffer_.clear(); }
  // The next sync writes at the start of the file. Only when every record is applied.
  void rewind() { offset_ = 0; }
  // Durable bytes since the last rewind.
  uint64_t offset() const { return offset_; }
  bool has_unsynced() const { return !buffer_.empty(); }
  bool preallocated() const { return preallocated_; }
  const std::string& path() const { return path_; }

  static constexpr size_t kHeaderBytes = 16;  // length, crc32c, lsn (little endian)
  static constexpr uint32_t kMaxPayloadBytes = 1u << 30;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  bool preallocated_ = false;
  bool fdatasync_ = true;
  std::string buffer_;
};

}  // namespace syncd
