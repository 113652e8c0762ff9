#pragma once
// A local write as one unit: the document's new local view and its mutation, written in
// the caller's transaction so that neither exists without the other. The base version
// of the mutation is the server version the local view was built on.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "queue/directions.h"
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

// A local write worked out but not stored yet: its mutation and the local view it leaves.
// A write to a `local` collection keeps its mutation out of the queue: only the view.
struct PreparedWrite {
  Mutation mutation;
  std::optional<std::string> local_data;
  bool local_only = false;
};

// How far the tables lag behind the acknowledged writes (all zero when writes go
// straight into the tables).
struct WriteBacklog {
  uint64_t unapplied = 0;       // acknowledged, durable in the journal, not yet in the tables
  uint64_t loop_slices = 0;     // times the loop applied writes itself: the applier was far behind
  uint64_t applier_raised = 0;  // times the applier left idle priority to catch up
  uint64_t lost_at_start = 0;   // acknowledged writes found lost in the journal at start-up
  uint64_t mark_failures = 0;   // journal mark writes that failed (queue/journal_recovery.h)
};

// Where local writes go, and the reads that must see them: straight into the tables
// (LocalWrites), or through the journal (JournaledWrites), which also answers for the
// writes it has acknowledged but not yet applied.
class LocalWriter {
 public:
  virtual ~LocalWriter() = default;
  // Throws WriteRejected for a write that cannot apply, SqliteError on storage failure.
  virtual LocalWriteResult apply(const LocalWrite& write) = 0;
  // The document as local reads see it (its newest local view); tombstones included.
  virtual std::optional<StoredDocument> find(std::string_view collection, std::string_view id) = 0;
  // Queue counts and the oldest pending write's creation time, every acknowledged
  // write included.
  virtual QueueCounts counts() = 0;
  virtual std::optional<int64_t> oldest_pending_created_ms() = 0;
  virtual WriteBacklog backlog() const { return {}; }
};

class LocalWrites final : public LocalWriter {
 public:
  LocalWrites(DocumentStore& documents, MutationQueue& queue, Uuid7Generator& ids,
              const Clock& clock, size_t max_document_bytes)
      : documents_(documents),
        queue_(queue),
        ids_(ids),
        clock_(clock),
        max_document_bytes_(max_document_bytes) {}

  void set_max_document_bytes(size_t bytes) { max_document_bytes_ = bytes; }
  // Which way each collection syncs: a pull-only collection's writes are refused
  // (read_only), a local one's are never queued.
  void set_directions(Directions directions) { directions_ = std::move(directions); }
  // For a CouchDB remote: a write to a collection that syncs, with a top-level field
  // starting with '_' (CouchDB's own) or a collection name with a '/', is refused
  // (invalid_document).
  void set_reserve_underscore_fields(bool reserve) { reserve_underscore_fields_ = reserve; }

  // Reads what the write builds on, prepares it and stores it in the caller's transaction.
  LocalWriteResult apply(const LocalWrite& write) override;
  std::optional<StoredDocument> find(std::string_view collection, std::string_view id) override {
    return documents_.find(collection, id);
  }
  QueueCounts counts() override { return queue_.counts(); }
  std::optional<int64_t> oldest_pending_created_ms() override {
    return queue_.oldest_pending_created_ms();
  }
  // Works out `write` on `base` (the document as it is now; nullopt when never seen):
  // no storage is touched. Throws WriteRejected.
  PreparedWrite prepare(const LocalWrite& write,
                        const std::optional<DocumentStore::WriteBase>& base);
  // Stores a prepared write: the local view and the queued mutation (none when local).
  static void store(DocumentStore& documents, MutationQueue& queue, const PreparedWrite& write);

 private:
  void check_size(const std::string& json, const LocalWrite& write) const;
  void check_couchdb_names(const LocalWrite& write) const;

  DocumentStore& documents_;
  MutationQueue& queue_;
  Uuid7Generator& ids_;
  const Clock& clock_;
  size_t max_document_bytes_;
  Directions directions_;
  bool reserve_underscore_fields_ = false;
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
