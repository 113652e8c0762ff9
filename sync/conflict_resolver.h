#pragma once
// What to do with a mutation the server answered "conflict" for, by the collection's
// strategy (DESIGN.md): server_wins drops it; client_wins pushes it again on top of the
// server's version; merge pushes the field-level three-way merge of the base, the
// mutation's document and the server's document; manual keeps it until
// conflicts.resolve. Pure: the sync engine applies the decision.
#include <map>
#include <optional>
#include <string>

#include "queue/mutation.h"
#include "sync/three_way_merge.h"

namespace syncd {

enum class Strategy { server_wins, client_wins, merge, manual };
std::optional<Strategy> parse_strategy(const std::string& text);
const char* to_string(Strategy strategy);

struct ConflictPolicy {
  Strategy strategy = Strategy::merge;
  Tiebreak tiebreak = Tiebreak::local;
};

// The default policy with per-collection overrides.
class ConflictPolicies {
 public:
  ConflictPolicies() = default;
  ConflictPolicies(ConflictPolicy fallback, std::map<std::string, ConflictPolicy> per_collection)
      : fallback_(fallback), per_collection_(std::move(per_collection)) {}
  const ConflictPolicy& for_collection(const std::string& collection) const {
    auto it = per_collection_.find(collection);
    return it == per_collection_.end() ? fallback_ : it->second;
  }

 private:
  ConflictPolicy fallback_;
  std::map<std::string, ConflictPolicy> per_collection_;
};

struct Conflict {
  std::optional<std::string> base_data;       // the document at the mutation's base version
  std::optional<std::string> remote_data;     // the server's document (nullopt: none/deleted)
  std::optional<std::string> remote_version;  // nullopt: the server never had it
};

struct ConflictDecision {
  enum class Action { drop, repush, keep };
  Action action = Action::keep;
  // For repush: the mutation to send instead, made on the server's version.
  MutationOp op = MutationOp::put;
  std::optional<std::string> payload;
  std::optional<std::string> base_version;
  // For the record: what the mutation wanted, and what the document becomes.
  std::optional<std::string> local_data;
  std::optional<std::string> result_data;
  std::string outcome;  // server_wins, client_wins, merged, manual
};

ConflictDecision resolve_conflict(const ConflictPolicy& policy, const Mutation& m,
                                  const Conflict& conflict);

}  // namespace syncd
