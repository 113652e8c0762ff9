#pragma once
// What the two journal files hold beyond the tables at start-up, and what of it is lost.
// Every record from the applied lsn (in the database) up to the last one known synced
// (the journal mark, or the database's record of it) must be in the journal; whatever is
// not (a damaged stretch, a truncated or deleted file) is lost, and each lost range is
// named with its cause. Records after a damaged stretch are still recovered. A journal
// file missing or shorter than it was made, after a run that did not stop cleanly, is
// named too, with the lsn after which writes may be lost (no record says how many).
#include <cstdint>
#include <string>
#include <vector>

#include "queue/journal_applier.h"

namespace syncd {

// What the start-up knows besides the journal files.
struct JournalEvidence {
  uint64_t applied_lsn = 0;      // the last lsn in the tables
  uint64_t synced_lsn = 0;       // the last lsn known acknowledged
  bool stopped_cleanly = false;  // the last run applied every write before it stopped
  uint64_t file_bytes = 0;       // the size the files were made (0: unknown, or they grow)
};

struct JournalRecovery {
  std::vector<HandedWrite> writes;  // beyond the applied lsn, in lsn order
  // The highest lsn accounted for (applied, recovered or lost): numbering goes on after it.
  uint64_t last_lsn = 0;
  uint64_t lost = 0;                  // records known lost
  std::vector<std::string> messages;  // one per lost range, naming the files and the cause
};

// Reads `files` (journal.0 and journal.1). Throws std::runtime_error for a record that
// checks but does not decode (a journal from a newer syncd), SqliteError when a file
// cannot be read.
JournalRecovery recover_journal(const std::vector<std::string>& files,
                                const JournalEvidence& evidence);

}  // namespace syncd
