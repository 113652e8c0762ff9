#include "queue/mutation.h"

namespace syncd {

const char* to_string(MutationOp op) {
  switch (op) {
    case MutationOp::put:
      return "put";
    case MutationOp::patch:
      return "patch";
    case MutationOp::del:
      return "delete";
  }
  return "?";
}

const char* to_string(MutationState state) {
  switch (state) {
    case MutationState::pending:
      return "pending";
    case MutationState::inflight:
      return "inflight";
    case MutationState::failed:
      return "failed";
    case MutationState::conflict:
      return "conflict";
  }
  return "?";
}

std::optional<MutationOp> parse_mutation_op(std::string_view text) {
  if (text == "put") return MutationOp::put;
  if (text == "patch") return MutationOp::patch;
  if (text == "delete") return MutationOp::del;
  return std::nullopt;
}

std::optional<MutationState> parse_mutation_state(std::string_view text) {
  if (text == "pending") return MutationState::pending;
  if (text == "inflight") return MutationState::inflight;
  if (text == "failed") return MutationState::failed;
  if (text == "conflict") return MutationState::conflict;
  return std::nullopt;
}

}  // namespace syncd
