#pragma once
// Applies what the remote says about conflicts, and conflicts.resolve: the server's
// current document is stored, the collection's strategy (conflict_resolver.h) decides,
// and the mutation is dropped, queued again under a new id on the server's version, or
// kept for manual resolution. Every outcome goes into the resolution log and the log.
// Works in the caller's transaction; documents whose local view changed are appended to
// `changes` for subscribers.
#include <optional>
#include <string>
#include <vector>

#include "queue/directions.h"
#include "queue/mutation_queue.h"
#include "store/document_store.h"
#include "store/resolution_log.h"
#include "sync/conflict_resolver.h"
#include "sync/dead_letters.h"
#include "sync/remote_protocol.h"
#include "util/clock.h"
#include "util/uuid7.h"

namespace syncd {

class ConflictApplier {
 public:
  // `directions` is read at each call (SIGHUP may change it): a local collection's view
  // holds writes never queued, so it is not rebuilt from the server's state.
  ConflictApplier(Database& db, DocumentStore& documents, MutationQueue& queue, Uuid7Generator& ids,
                  const Clock& clock, ConflictPolicies policies, const Directions& directions);

  struct Applied {
    std::string log_line;  // to log once the caller's transaction has committed
    std::string strategy;  // as the resolution log names them
    std::string outcome;
  };
  // The remote answered `m` with conflict `r`.
  Applied apply(const Mutation& m, const PushResult& r, std::vector<RemoteChange>& changes);

  // conflicts.resolve: `take` is "local", "remote", or a JSON object text. An error
  // message when there is no such conflict, else nullopt with the document's new local
  // view in `changes`. Throws SqliteError when the database fails.
  std::optional<std::string> resolve_manually(const std::string& mutation_id,
                                              const std::string& take,
                                              std::vector<RemoteChange>& changes);

 private:
  Database& db_;
  DocumentStore& documents_;
  MutationQueue& queue_;
  ResolutionLog resolutions_;
  Uuid7Generator& ids_;
  const Clock& clock_;
  ConflictPolicies policies_;
  const Directions& directions_;
};

}  // namespace syncd
