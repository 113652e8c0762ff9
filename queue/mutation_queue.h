#pragma once
// The durable mutation queue (the `mutations` table). Enqueue joins the caller's
// transaction so a document change and its mutation commit together. Leasing keeps
// per-document FIFO: only the head of a document's queue (its oldest unfinished
// mutation, marked is_head) can be leased, so a document never has two mutations in
// flight or in one batch. The queue lives on disk; nothing here holds more than one batch
// in memory, and no operation's work grows with the mutations queued behind one document
// (leases read heads from their index; an acknowledgement rebases the rest of its
// document's queue in one documents row, which every read of a mutation consults).
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "queue/mutation.h"
#include "store/sqlite.h"

namespace syncd {

struct QueueCounts {
  int64_t pending = 0;
  int64_t inflight = 0;
  int64_t failed = 0;
  int64_t conflict = 0;
};

class MutationQueue {
 public:
  explicit MutationQueue(Database& db);
  // The database the queue lives in, for a transaction around a queue change and the
  // document change that goes with it.
  Database& database() { return db_; }

  // Appends `m` (state pending); m.seq is ignored and assigned. Returns the seq.
  int64_t enqueue(const Mutation& m);

  // Moves up to `max_count` due mutations (and about `max_bytes` of payload, at least
  // one) from pending to inflight, in queue order, at most one per document.
  std::vector<Mutation> lease(int64_t now_ms, size_t max_count, size_t max_bytes);

  // The server applied it: the mutation leaves the queue. False when unknown.
  bool ack(std::string_view id);
  // A retryable failure: back to pending, due again at `retry_at_ms`.
  bool fail(std::string_view id, int64_t retry_at_ms, std::string_view error);
  // The server rejected it for good: kept as a dead letter (state failed).
  bool dead_letter(std::string_view id, std::string_view error);
  // Kept until a manual resolution (state conflict).
  bool mark_conflict(std::string_view id, std::string_view error);
  // Failed or conflict -> pending, due now, under `new_id`: the remote remembers its
  // answer to the old id (dedupe) and would only give it again. False when no such
  // mutation in those states.
  bool retry(std::string_view id, int64_t now_ms, std::string_view new_id);
  // Leases do not survive a restart: inflight -> pending. Returns how many moved.
  int64_t recover_inflight();

  // The unfinished (pending, inflight, conflict) mutations of one document, in order.
  std::vector<Mutation> unfinished_for_document(std::string_view collection,
                                                std::string_view doc_id);
  // The server applied these mutations (one per document): each leaves the queue, the
  // later mutations of its document take its new version as their base, and the next
  // one heads the queue. Three statements for the whole batch.
  struct Applied {
    int64_t seq;
    std::string collection;
    std::string doc_id;
    std::string version;
  };
  void ack_applied(const std::vector<Applied>& applied);

  // Puts `fresh` (a new id) in place of the mutation `old_id`, keeping its queue position.
  void replace(std::string_view old_id, const Mutation& fresh);

  // Every pending mutation waiting for a retry time becomes due now (syncctl sync).
  int64_t make_due(int64_t now_ms);

  QueueCounts counts();
  std::optional<int64_t> oldest_pending_created_ms();
  std::optional<Mutation> find(std::string_view id);
  // In queue order, optionally only one state, starting after `after_seq`.
  std::vector<Mutation> list(std::optional<MutationState> state, size_t limit,
                             int64_t after_seq = 0);

 private:
  // Runs a statement that changes one mutation and returns its document, then marks
  // that document's next head. False when no mutation changed.
  bool leave_and_mark_next_head(Statement& returning_document);

  Database& db_;
  Statement insert_;
  Statement lease_scan_;
  Statement mark_inflight_;
  Statement delete_;
  Statement mark_next_head_;
  Statement fail_;
  Statement mark_conflict_;
  Statement dead_letter_;
  Statement retry_;
  Statement recover_;
  Statement counts_;
  Statement oldest_;
  Statement find_;
  Statement list_all_;
  Statement list_state_;
  Statement for_document_;
  Statement insert_at_;
  Statement narrow_rebase_;
  Statement rebase_batch_;
  Statement delete_batch_;
  Statement next_heads_batch_;
  Statement make_due_;
};

}  // namespace syncd
