#pragma once
// The record of every conflict resolution (`resolutions` table): both sides, what was
// kept and how. Writes join the caller's transaction.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite.h"

namespace syncd {

struct Resolution {
  int64_t seq = 0;
  std::string mutation_id;
  std::string collection;
  std::string doc_id;
  std::string strategy;
  std::optional<std::string> local_data;
  std::optional<std::string> remote_data;
  std::optional<std::string> remote_version;
  std::optional<std::string> result_data;
  std::string outcome;
  int64_t resolved_at_ms = 0;
};

class ResolutionLog {
 public:
  explicit ResolutionLog(Database& db);
  void record(const Resolution& r);
  // Newest first, at most `limit`.
  std::vector<Resolution> recent(size_t limit);

 private:
  Statement insert_;
  Statement recent_;
};

}  // namespace syncd
