#pragma once
// A local write as one unit: the document's new local view and its mutation, written in
// the caller's transaction so that neither exists without the other. The base version
// of the mutation is the server version the local view was built on.
#include <optional>
#include <stdexcept>
#include <string>

#include "queue/mutation_queue.h"
#include "store/document_store.h"
#include "util/clock.h"
#include "util/json.h"
#include "util/uuid7.h"

namespace syncd {

// A write that cannot be applied; `reason` is the stable IPC word (not_found, too_large).
class WriteRejected : public std::runtime_error {
 public:
  WriteRejected(std::string reason, const std::string& message)
      : std::runtime_error(message), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

struct LocalWrite {
  MutationOp op = MutationOp::put;
  std::string collection;
  std::string id;
  const JsonValue* data = nullptr;  // the object (put) or merge patch (patch); unused for delete
};

struct LocalWriteResult {
  std::string mutation_id;
  std::optional<std::string> local_data;  // the new local view, nullopt after a delete
};

class LocalWrites {
 public:
  LocalWrites(DocumentStore& documents, MutationQueue& queue, Uuid7Generator& ids,
              const Clock& clock, size_t max_document_bytes)
      : documents_(documents),
        queue_(queue),
        ids_(ids),
        clock_(clock),
        max_document_bytes_(max_document_bytes) {}

  void set_max_document_bytes(size_t bytes) { max_document_bytes_ = bytes; }

  // Throws WriteRejected for a write that cannot apply, SqliteError on storage failure.
  LocalWriteResult apply(const LocalWrite& write);

 private:
  void check_size(const std::string& json, const LocalWrite& write) const;

  DocumentStore& documents_;
  MutationQueue& queue_;
  Uuid7Generator& ids_;
  const Clock& clock_;
  size_t max_document_bytes_;
};

// Recomputes a document's local view from its server state and its unfinished
// mutations, in order (after a pull changed the server state, or a mutation was dropped).
// Returns the new view.
std::optional<std::string> rebuild_local_view(DocumentStore& documents, MutationQueue& queue,
                                              std::string_view collection, std::string_view doc_id,
                                              int64_t now_ms);

// The document `m` leaves when applied on `before` (nullopt: absent or deleted).
std::optional<std::string> apply_mutation(const std::optional<std::string>& before,
                                          const Mutation& m);

}  // namespace syncd
