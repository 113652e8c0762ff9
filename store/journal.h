#pragma once
// The write-ahead journal of local writes: a file of checksummed records, each carrying a
// log sequence number (lsn) one above the record before it. A turn's records are
// appended in memory and made durable together by sync(), one pwrite and one fdatasync,
// before any of them is acknowledged. The file is filled with zeros ahead of use, so a
// sync writes back data blocks only (the size and block map do not change), and then it
// is written with O_DIRECT | O_DSYNC: whole 4 KiB blocks straight from memory, the
// partly filled last block written again with the next records. Once every
// record is applied to SQLite the writer rewinds to the start. A reader follows the lsns
// from the start of the file; where a record does not check (torn, zero, damaged, or a
// stale one from before a rewind) it looks further on for a record that continues the
// lsns above a floor the caller knows to be applied (stale records are all at or below
// it): found, the stretch in between is damage, reported with the records after it;
// not found, that was the end of the journal.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace syncd {

struct JournalRecord {
  uint64_t lsn = 0;
  std::string payload;
};

// What a reader found in one journal file.
struct JournalScan {
  bool exists = false;
  uint64_t file_bytes = 0;
  std::vector<JournalRecord> records;  // lsns strictly increasing
  uint64_t end_offset = 0;             // just after the last of them
  // Bytes that held no valid record although records with higher lsns follow them.
  struct Damage {
    uint64_t offset = 0;
    uint64_t bytes = 0;
    uint64_t lsn_before = 0;  // the last record before it (0: none)
    uint64_t lsn_after = 0;   // the first record after it
  };
  std::vector<Damage> damage;
};

class Journal {
 public:
  // The valid records of the file (none when it does not exist), read past damage to
  // records with lsns above `applied_lsn` and at most `lsn_window` above it (the bytes of
  // all journal files: no more records than that can be unapplied). The window keeps a
  // damaged or hostile file from costing a checksum of megabytes at every byte of it.
  // Throws SqliteError when it cannot be read.
  static JournalScan scan(const std::string& path, uint64_t applied_lsn = 0,
                          uint64_t lsn_window = UINT64_MAX);
  // Only the records.
  static std::vector<JournalRecord> read(const std::string& path) { return scan(path).records; }

  // Opens (creating) the file for writing at its start. Fills it with zeros up to
  // `preallocate_bytes` when shorter; if the disk cannot hold that, gives the room back
  // and grows the file as records come instead. Without `fdatasync` a sync only writes
  // to the page cache (store.synchronous=normal: safe from a crash of syncd, not of the
  // machine). Writes go through the page cache as well when the file could not be filled
  // or its file system refuses O_DIRECT.
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
  void rewind() {
    offset_ = 0;
    tail_.clear();
  }
  // Durable bytes since the last rewind.
  uint64_t offset() const { return offset_; }
  bool has_unsynced() const { return !buffer_.empty(); }
  bool preallocated() const { return preallocated_; }
  // Whole blocks written past the page cache (O_DIRECT), each sync on the disk when
  // pwrite returns (O_DSYNC): 12 to 20 % less time per sync than pwrite + fdatasync.
  bool direct() const { return direct_; }
  const std::string& path() const { return path_; }

  static constexpr size_t kHeaderBytes = 16;   // length, crc32c, lsn (little endian)
  static constexpr size_t kBlockBytes = 4096;  // O_DIRECT alignment, enough for any disk

 private:
  void open_direct();
  void write_at(const char* data, size_t size, uint64_t at);
  void write_blocks();
  // The aligned buffer of at least `bytes` (a multiple of kBlockBytes) a direct write uses.
  char* aligned_blocks(size_t bytes);

  struct FreeAligned {
    void operator()(char* p) const;
  };

  std::string path_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  // After a failed sync: the `bytes` after offset_ are zeros (or gone) again.
  void erase_after_offset(size_t bytes);
  bool preallocated_ = false;
  bool fdatasync_ = true;
  bool direct_ = false;
  std::string buffer_;  // records appended since the last sync
  std::string tail_;    // direct: the synced bytes of the block that offset_ is in
  std::unique_ptr<char[], FreeAligned> blocks_;  // direct: what one sync writes, aligned
  size_t blocks_capacity_ = 0;
};

}  // namespace syncd
