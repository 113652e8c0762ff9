#pragma once
// The database file: pragmas, the integrity check at start-up, and the versioned schema
// (PRAGMA user_version) with forward-only migrations. The schema of every table lives
// here, the mutation queue's included, so one file says what is on disk.
#include <string>

#include "store/sqlite.h"

namespace syncd {

// The schema version this build writes. A file with a higher version is refused.
int current_schema_version();

enum class SyncMode { full, normal };

// Sets WAL mode and the synchronous level, runs PRAGMA quick_check and migrates the
// schema forward. Throws SqliteError (is_corrupt() for a damaged file) or
// std::runtime_error with a message that names the file and what is wrong.
void prepare_database(Database& db, SyncMode sync_mode);

}  // namespace syncd
