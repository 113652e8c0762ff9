#include "queue/journal_recovery.h"

#include <sys/stat.h>

#include <algorithm>
#include <stdexcept>

#include "queue/write_record.h"
#include "store/journal.h"

namespace syncd {
namespace {

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string range(uint64_t first, uint64_t last) {
  return first == last ? "the acknowledged write with lsn " + std::to_string(first) + " is"
                       : "acknowledged writes with lsns " + std::to_string(first) + " to " +
                             std::to_string(last) + " are";
}

// Why records from `first` on are missing: the damage that ends just before the next
// record, else what is wrong with the files.
std::string cause(const std::vector<std::string>& files, const std::vector<JournalScan>& scans,
                  uint64_t first) {
  for (size_t i = 0; i < scans.size(); ++i) {
    for (const JournalScan::Damage& d : scans[i].damage) {
      if (d.lsn_before < first && first < d.lsn_after) {
        return base_name(files[i]) + " has " + std::to_string(d.bytes) +
               " bytes that do not check at offset " + std::to_string(d.offset);
      }
    }
  }
  std::string why;
  for (size_t i = 0; i < scans.size(); ++i) {
    const JournalScan& s = scans[i];
    std::string what;
    if (!s.exists) {
      what = "is missing";
    } else if (s.file_bytes == 0) {
      what = "is empty";
    } else if (!s.records.empty() && s.records.back().lsn == first - 1) {
      what = "ends after lsn " + std::to_string(first - 1) + ", at offset " +
             std::to_string(s.end_offset) + " of " + std::to_string(s.file_bytes) +
             " bytes (truncated, or damaged from there)";
    }
    if (!what.empty()) why += (why.empty() ? "" : "; ") + base_name(files[i]) + " " + what;
  }
  return why.empty() ? "no journal file holds them (damaged or replaced?)" : why;
}

}  // namespace

JournalRecovery recover_journal(const std::vector<std::string>& files,
                                const JournalEvidence& evidence) {
  const uint64_t applied_lsn = evidence.applied_lsn;
  std::vector<JournalScan> scans;
  struct Found {
    JournalRecord record;
    size_t file;
  };
  std::vector<Found> records;
  // Every unapplied record is in these files and takes more than a byte of them; the
  // slack covers lsns lost with files truncated or deleted before.
  uint64_t window = uint64_t{1} << 20;
  for (const std::string& file : files) {
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0) window += static_cast<uint64_t>(st.st_size);
  }
  for (const std::string& file : files) {
    scans.push_back(Journal::scan(file, applied_lsn, window));
    for (JournalRecord& record : scans.back().records) {
      records.push_back(Found{std::move(record), scans.size() - 1});
    }
  }
  std::sort(records.begin(), records.end(),
            [](const Found& a, const Found& b) { return a.record.lsn < b.record.lsn; });
  JournalRecovery out;
  uint64_t last = applied_lsn;
  auto lose = [&](uint64_t first, uint64_t through, const std::string& tail) {
    out.lost += through - first + 1;
    out.messages.push_back("journal: " + range(first, through) + " lost" + tail + ": " +
                           cause(files, scans, first));
  };
  for (auto& [record, file] : records) {
    if (record.lsn <= last) continue;  // in the tables already
    if (record.lsn != last + 1) lose(last + 1, record.lsn - 1, "");
    last = record.lsn;
    if (!decode_write_record(record.payload)) {
      throw std::runtime_error(files[file] + ": record " + std::to_string(record.lsn) +
                               " passes its checksum but is not a write this syncd knows; "
                               "refusing to start rather than drop it");
    }
    out.writes.push_back(HandedWrite{record.lsn, std::move(record.payload)});
  }
  if (last < evidence.synced_lsn) {
    lose(last + 1, evidence.synced_lsn,
         " (the journal mark says they were acknowledged), and any acknowledged after them");
    last = evidence.synced_lsn;
  } else if (!evidence.stopped_cleanly && evidence.file_bytes > 0) {
    std::string why;
    for (size_t i = 0; i < scans.size(); ++i) {
      if (!scans[i].exists || scans[i].file_bytes < evidence.file_bytes) {
        why += (why.empty() ? "" : "; ") + base_name(files[i]) +
               (scans[i].exists ? " is " + std::to_string(scans[i].file_bytes) + " bytes, made " +
                                      std::to_string(evidence.file_bytes)
                                : " is missing");
      }
    }
    if (!why.empty()) {
      out.messages.push_back("journal: acknowledged writes after lsn " + std::to_string(last) +
                             " may be lost (how many is not recorded): " + why +
                             ", and the last run did not stop cleanly");
    }
  }
  out.last_lsn = last;
  return out;
}

}  // namespace syncd
