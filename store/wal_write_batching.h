#pragma once
// An SQLite VFS shim that turns a commit's many small WAL writes into one. SQLite writes
// every WAL frame as two pwrite calls (24-byte header, then the page), so a group commit
// of a few dozen pages cost ~70 system calls before its fsync; measured in
// bench/ipc_write, those calls were the largest single cost of a durable put. The shim
// collects contiguous appends to a WAL file in memory and writes them with one pwrite
// when SQLite syncs, reads, truncates or closes the file.
//
// The buffer is written out when the commit frame of a transaction has been written
// (a WAL frame header whose "database size after commit" field is not zero), so by the
// time SQLite publishes the commit in the wal-index, and COMMIT returns, every frame of
// the transaction is in the file; it is also written out before any sync, read,
// truncate or close of the WAL. Nothing is held across a commit.
namespace syncd {

// Registers the VFS (idempotent) and returns its name for sqlite3_open_v2.
const char* wal_write_batching_vfs();

}  // namespace syncd
