#include "sync/conflict_applier.h"

#include "queue/local_writes.h"
#include "util/logger.h"

namespace syncd {

ConflictApplier::ConflictApplier(Database& db, DocumentStore& documents, MutationQueue& queue,
                                 Uuid7Generator& ids, const Clock& clock, ConflictPolicies policies,
                                 const Directions& directions)
    : db_(db),
      documents_(documents),
      queue_(queue),
      resolutions_(db),
      ids_(ids),
      clock_(clock),
      policies_(std::move(policies)),
      directions_(directions) {}

ConflictApplier::Applied ConflictApplier::apply(const Mutation& m, const PushResult& r,
                                                std::vector<RemoteChange>& changes) {
  const int64_t now = clock_.now_ms();
  std::optional<StoredDocument> doc = documents_.find(m.collection, m.doc_id);
  Conflict conflict;
  const bool base_known = doc && m.base_version && doc->server_version == m.base_version;
  if (base_known && !doc->server_deleted) {
    conflict.base_data = doc->server_data;
  } else if (!base_known && m.op == MutationOp::patch) {
    // The state the patch was made on is gone (a pull replaced it, and the local view
    // shows the patch on the newer state). A merge patch is a change to whatever it lands
    // on, so it is merged onto the server's document as the local view shows it, not
    // onto nothing, which would lose it.
    conflict.base_data = r.current_data;
  }
  conflict.remote_data = r.current_data;
  conflict.remote_version = r.current_version;
  if (r.current_version) {
    documents_.set_server_state(m.collection, m.doc_id, r.current_data, *r.current_version, now);
  }
  const ConflictPolicy& policy = policies_.for_collection(m.collection);
  ConflictDecision d = resolve_conflict(policy, m, conflict);
  Resolution record;
  record.mutation_id = m.id;
  record.collection = m.collection;
  record.doc_id = m.doc_id;
  record.strategy = to_string(policy.strategy);
  record.local_data = d.local_data;
  record.remote_data = r.current_data;
  record.remote_version = r.current_version;
  record.result_data = d.result_data;
  record.outcome = d.outcome;
  record.resolved_at_ms = now;
  switch (d.action) {
    case ConflictDecision::Action::drop:
      queue_.ack(m.id);
      break;
    case ConflictDecision::Action::repush: {
      Mutation fresh = m;
      fresh.id = ids_.next();  // a new id: the old one already has its answer on the server
      fresh.op = d.op;
      fresh.payload = d.payload;
      fresh.base_version = d.base_version;
      queue_.replace(m.id, fresh);
      break;
    }
    case ConflictDecision::Action::keep:
      queue_.mark_conflict(m.id, "conflict with server version " +
                                     r.current_version.value_or("(none)") +
                                     "; resolve with syncctl resolve");
      break;
  }
  resolutions_.record(record);
  if (d.action != ConflictDecision::Action::keep &&
      directions_.of(m.collection) != Direction::local) {
    auto view = rebuild_local_view(documents_, queue_, m.collection, m.doc_id, now);
    changes.push_back({m.collection, m.doc_id, view});
  }
  return {"sync: conflict on " + m.collection + "/" + m.doc_id + " (mutation " + m.id +
              ", server version " + r.current_version.value_or("none") + "): " + record.strategy +
              ", " + record.outcome,
          record.strategy, record.outcome};
}

std::optional<std::string> ConflictApplier::resolve_manually(const std::string& mutation_id,
                                                             const std::string& take,
                                                             std::vector<RemoteChange>& changes) {
  Transaction tx(db_);
  std::optional<Mutation> m = queue_.find(mutation_id);
  if (!m || m->state != MutationState::conflict) return "no conflict " + mutation_id;
  std::optional<StoredDocument> doc = documents_.find(m->collection, m->doc_id);
  Resolution record;
  record.mutation_id = m->id;
  record.collection = m->collection;
  record.doc_id = m->doc_id;
  record.strategy = "manual";
  record.local_data = apply_mutation(std::nullopt, *m);
  if (doc) {
    record.remote_version = doc->server_version;
    if (!doc->server_deleted) record.remote_data = doc->server_data;
  }
  record.outcome = "manual_resolved";
  record.resolved_at_ms = clock_.now_ms();
  if (take == "remote") {
    queue_.ack(m->id);
    record.result_data = record.remote_data;
  } else {
    Mutation fresh = *m;
    fresh.id = ids_.next();
    fresh.base_version = doc ? doc->server_version : std::nullopt;
    if (take != "local") {
      fresh.op = MutationOp::put;
      fresh.payload = take;
    }
    queue_.replace(m->id, fresh);
    record.result_data = apply_mutation(record.remote_data, fresh);
  }
  resolutions_.record(record);
  if (directions_.of(m->collection) != Direction::local) {
    auto view = rebuild_local_view(documents_, queue_, m->collection, m->doc_id, clock_.now_ms());
    changes.push_back({m->collection, m->doc_id, view});
  }
  tx.commit();
  log_info("sync: conflict on " + m->collection + "/" + m->doc_id + " (mutation " + m->id +
           ") resolved by hand: took " +
           (take == "local" || take == "remote" ? take : "a document"));
  return std::nullopt;
}

}  // namespace syncd
