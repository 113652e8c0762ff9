#pragma once
// An SQLite VFS shim that turns a commit's many small WAL writes into one. SQLite writes
// every WAL frame as two pwrite calls (24-byte header, then the page), so a group commit
// of a few dozen pages cost ~70 system calls before its fsync; measured in
// bench/ipc_write, those calls were the largest single cost of a durable put. The shim
// collects contiguous appends to a WAL file in memory and writes them with one pwrite
// when SQLite syncs, reads, truncates or closes the file.
//
// It is only correct when every commit ends with a sync of the WAL, i.e. with
// PRAGMA synchronous=FULL (or EXTRA): the commit is not complete, and syncd answers no
// client, before that sync returned. With synchronous=NORMAL use the default VFS.
namespace syncd {

// Registers the VFS (idempotent) and returns its name for sqlite3_open_v2.
const char* wal_write_batching_vfs();

}  // namespace syncd
