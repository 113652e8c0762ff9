#pragma once
// What a dead letter does to the local view, in one place (docs/OPERATIONS.md,
// "Refused mutations"): a mutation the server refuses for good leaves the local view
// (its document shows the server state with the document's other unfinished mutations
// applied), and a retry brings it back (pending again, in its old place in the queue),
// so that once the server applies it the local view is the server's state. Each call
// changes the queue and the views together, in the caller's transaction or its own.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/directions.h"
#include "queue/mutation_queue.h"
#include "store/document_store.h"
#include "util/uuid7.h"

namespace syncd {

// A document whose local view changed, for subscribers (data nullopt: no document).
struct RemoteChange {
  std::string collection;
  std::string id;
  std::optional<std::string> data;
};

// Moves `m` to the dead letters with `error` and takes it out of its document's view,
// unless the collection is local now: its view holds writes that were never queued, and
// stays as it is.
void dead_letter(DocumentStore& documents, MutationQueue& queue, const Directions& directions,
                 const Mutation& m, std::string_view error, int64_t now_ms,
                 std::vector<RemoteChange>& changes);

// Queues the dead letter `id` again (every dead letter when nullopt), each under a new
// mutation id from `ids`, and puts each back into its document's view; dead letters of
// collections that `pushes` says send nothing now (pull-only, local) stay as they are.
// Returns how many were queued again.
int64_t retry_dead_letters(DocumentStore& documents, MutationQueue& queue, Uuid7Generator& ids,
                           const Directions& directions, std::optional<std::string_view> id,
                           int64_t now_ms, std::vector<RemoteChange>& changes);

}  // namespace syncd
