#pragma once
// One local write waiting for the server: what it does, which server version it was
// made on, and where it is in its life (pending -> inflight -> acked and deleted, or
// failed = dead letter, or conflict = waiting for a manual resolution).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace syncd {

enum class MutationOp { put, patch, del };
enum class MutationState { pending, inflight, failed, conflict };

const char* to_string(MutationOp op);
const char* to_string(MutationState state);
std::optional<MutationOp> parse_mutation_op(std::string_view text);
std::optional<MutationState> parse_mutation_state(std::string_view text);

struct Mutation {
  int64_t seq = 0;  // queue position, assigned by enqueue
  std::string id;   // UUIDv7, unique per client, the server's idempotency key
  std::string collection;
  std::string doc_id;
  MutationOp op = MutationOp::put;
  std::optional<std::string> base_version;
  std::optional<std::string> payload;  // JSON text: the body (put) or merge patch (patch)
  MutationState state = MutationState::pending;
  int64_t attempts = 0;
  int64_t next_attempt_at_ms = 0;
  std::optional<std::string> last_error;
  int64_t created_at_ms = 0;
};

}  // namespace syncd
