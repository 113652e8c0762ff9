#include "sync/conflict_resolver.h"

#include "queue/local_writes.h"
#include "util/json.h"

namespace syncd {
namespace {

std::unique_ptr<JsonDocument> parse_or_null(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  auto doc = std::make_unique<JsonDocument>();
  if (parse_json(*text, *doc)) return nullptr;
  return doc;
}

}  // namespace

std::optional<Strategy> parse_strategy(const std::string& text) {
  if (text == "server_wins") return Strategy::server_wins;
  if (text == "client_wins") return Strategy::client_wins;
  if (text == "merge") return Strategy::merge;
  if (text == "manual") return Strategy::manual;
  return std::nullopt;
}

const char* to_string(Strategy strategy) {
  switch (strategy) {
    case Strategy::server_wins:
      return "server_wins";
    case Strategy::client_wins:
      return "client_wins";
    case Strategy::merge:
      return "merge";
    case Strategy::manual:
      return "manual";
  }
  return "?";
}

ConflictDecision resolve_conflict(const ConflictPolicy& policy, const Mutation& m,
                                  const Conflict& conflict) {
  ConflictDecision d;
  d.local_data = apply_mutation(conflict.base_data, m);
  switch (policy.strategy) {
    case Strategy::server_wins:
      d.action = ConflictDecision::Action::drop;
      d.result_data = conflict.remote_data;
      d.outcome = "server_wins";
      return d;
    case Strategy::manual:
      d.action = ConflictDecision::Action::keep;
      d.outcome = "manual";
      return d;
    case Strategy::client_wins:
      d.action = ConflictDecision::Action::repush;
      d.op = m.op;
      d.payload = m.payload;
      d.base_version = conflict.remote_version;
      d.result_data = apply_mutation(conflict.remote_data, m);
      d.outcome = "client_wins";
      if (m.op == MutationOp::del && !conflict.remote_data) {
        d.action = ConflictDecision::Action::drop;  // already gone on the server
      }
      return d;
    case Strategy::merge: {
      auto base = parse_or_null(conflict.base_data);
      auto local = parse_or_null(d.local_data);
      auto remote = parse_or_null(conflict.remote_data);
      // A side that cannot be read (stored nested deeper than kMaxJsonDepth by an older
      // syncd, or damaged) would count as deleted: it is kept for a person instead.
      if ((conflict.base_data && !base) || (d.local_data && !local) ||
          (conflict.remote_data && !remote)) {
        d.action = ConflictDecision::Action::keep;
        d.outcome = "manual";
        return d;
      }
      MergeResult merged = three_way_merge(base.get(), local.get(), remote.get(), policy.tiebreak);
      d.outcome = "merged";
      if (merged.document) {
        d.result_data = to_json(*merged.document);
        if (d.result_data == conflict.remote_data) {
          d.action = ConflictDecision::Action::drop;  // the server already has the result
        } else {
          d.action = ConflictDecision::Action::repush;
          d.op = MutationOp::put;
          d.payload = d.result_data;
          d.base_version = conflict.remote_version;
        }
      } else if (conflict.remote_data) {
        d.action = ConflictDecision::Action::repush;
        d.op = MutationOp::del;
        d.base_version = conflict.remote_version;
      } else {
        d.action = ConflictDecision::Action::drop;  // deleted on both sides
      }
      return d;
    }
  }
  return d;
}

}  // namespace syncd
