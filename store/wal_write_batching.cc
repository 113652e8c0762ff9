#include "store/wal_write_batching.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "store/sqlite.h"

namespace syncd {
namespace {

constexpr const char* kVfsName = "syncd-wal-batching";
constexpr size_t kMaxBuffered = 4 << 20;  // flush earlier than the sync past this

sqlite3_vfs* g_base = nullptr;
sqlite3_vfs g_vfs;

struct BatchFile {
  sqlite3_file base;   // must be first: SQLite sees this
  sqlite3_file* real;  // the default VFS's file, allocated right after this struct
  bool is_wal;
  char* buffer;
  size_t length;
  size_t capacity;
  sqlite3_int64 start;     // file offset of buffer[0]
  bool commit_frame_next;  // the last write was the header of a commit frame
};

constexpr int kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;

// A WAL frame header (https://sqlite.org/fileformat.html#wal_file_format) whose bytes
// 4-7, the database size in pages after the commit, are not zero ends a transaction.
bool is_commit_frame_header(const void* data, int amount, sqlite3_int64 offset) {
  if (amount != kFrameHeaderBytes || offset < kWalHeaderBytes) return false;
  const unsigned char* b = static_cast<const unsigned char*>(data);
  return (b[4] | b[5] | b[6] | b[7]) != 0;
}

BatchFile* as_batch(sqlite3_file* f) { return reinterpret_cast<BatchFile*>(f); }

// The unix VFS writes at most 128 KiB - 1 per call (seekAndWrite masks the length with
// 0x1ffff, and reports a longer write as SQLITE_FULL), so a flush goes in 64 KiB pieces.
constexpr size_t kMaxWriteCall = 64 << 10;

int flush(BatchFile* f) {
  int rc = SQLITE_OK;
  for (size_t done = 0; done < f->length && rc == SQLITE_OK; done += kMaxWriteCall) {
    size_t piece = std::min(kMaxWriteCall, f->length - done);
    rc = f->real->pMethods->xWrite(f->real, f->buffer + done, static_cast<int>(piece),
                                   f->start + static_cast<sqlite3_int64>(done));
  }
  f->length = 0;
  return rc;
}

int x_close(sqlite3_file* file) {
  BatchFile* f = as_batch(file);
  int rc = flush(f);
  int close_rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  std::free(f->buffer);
  f->buffer = nullptr;
  return rc != SQLITE_OK ? rc : close_rc;
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  BatchFile* f = as_batch(file);
  if (f->length > 0) {
    int rc = flush(f);
    if (rc != SQLITE_OK) return rc;
  }
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}

int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  BatchFile* f = as_batch(file);
  if (!f->is_wal) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  const size_t size = static_cast<size_t>(amount);
  const bool appends = f->length > 0 && offset == f->start + static_cast<sqlite3_int64>(f->length);
  if (!appends) {
    int rc = flush(f);
    if (rc != SQLITE_OK) return rc;
    f->start = offset;
  }
  if (f->length + size > kMaxBuffered) {
    int rc = flush(f);
    if (rc != SQLITE_OK) return rc;
    f->start = offset;
    if (size > kMaxWriteCall) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  }
  if (f->length + size > f->capacity) {
    size_t capacity =
        std::max<size_t>(f->capacity * 2, std::max<size_t>(f->length + size, 64 << 10));
    char* grown = static_cast<char*>(std::realloc(f->buffer, capacity));
    if (grown == nullptr) return SQLITE_NOMEM;
    f->buffer = grown;
    f->capacity = capacity;
  }
  std::memcpy(f->buffer + f->length, data, size);
  f->length += size;
  if (f->commit_frame_next) {
    // The commit frame's page is in: the transaction is complete, write it out.
    f->commit_frame_next = false;
    return flush(f);
  }
  f->commit_frame_next = is_commit_frame_header(data, amount, offset);
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  BatchFile* f = as_batch(file);
  int rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* file, int flags) {
  BatchFile* f = as_batch(file);
  int rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  BatchFile* f = as_batch(file);
  int rc = f->real->pMethods->xFileSize(f->real, size);
  if (rc == SQLITE_OK && f->length > 0) {
    *size = std::max(*size, f->start + static_cast<sqlite3_int64>(f->length));
  }
  return rc;
}

// Everything else goes straight to the real file.
sqlite3_file* real(sqlite3_file* f) { return as_batch(f)->real; }
int x_lock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int x_check_reserved_lock(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) {
  return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
int x_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), page, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int delete_flag) {
  return real(f)->pMethods->xShmUnmap(real(f), delete_flag);
}
int x_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  int rc = flush(as_batch(f));
  if (rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFetch(real(f), offset, amount, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), offset, p);
}

const sqlite3_io_methods kMethods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  BatchFile* f = as_batch(file);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->buffer = nullptr;
  f->length = 0;
  f->capacity = 0;
  f->start = 0;
  f->commit_frame_next = false;
  f->base.pMethods = nullptr;
  int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  if (f->real->pMethods == nullptr || f->real->pMethods->iVersion < 3) {
    // Unexpected base VFS: hand the real methods through without batching.
    f->is_wal = false;
  }
  f->base.pMethods = f->real->pMethods ? &kMethods : nullptr;
  return rc;
}

}  // namespace

const char* wal_write_batching_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    configure_sqlite_library();  // sqlite3_vfs_find initialises SQLite
    g_base = sqlite3_vfs_find(nullptr);
    g_vfs = *g_base;
    g_vfs.zName = kVfsName;
    g_vfs.szOsFile = static_cast<int>(sizeof(BatchFile)) + g_base->szOsFile;
    g_vfs.xOpen = x_open;
    g_vfs.pNext = nullptr;
    sqlite3_vfs_register(&g_vfs, 0);
  });
  return kVfsName;
}

}  // namespace syncd
