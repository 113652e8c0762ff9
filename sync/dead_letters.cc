#include "sync/dead_letters.h"

#include <set>
#include <utility>

#include "queue/local_writes.h"

namespace syncd {

void dead_letter(DocumentStore& documents, MutationQueue& queue, const Directions& directions,
                 const Mutation& m, std::string_view error, int64_t now_ms,
                 std::vector<RemoteChange>& changes) {
  Transaction tx(queue.database());
  queue.dead_letter(m.id, error);
  if (directions.of(m.collection) == Direction::local) {
    tx.commit();
    return;
  }
  auto view = rebuild_local_view(documents, queue, m.collection, m.doc_id, now_ms);
  tx.commit();
  changes.push_back({m.collection, m.doc_id, std::move(view)});
}

int64_t retry_dead_letters(DocumentStore& documents, MutationQueue& queue, Uuid7Generator& ids,
                           const Directions& directions, std::optional<std::string_view> id,
                           int64_t now_ms, std::vector<RemoteChange>& changes) {
  Transaction tx(queue.database());
  std::set<std::pair<std::string, std::string>> touched;
  int64_t retried = 0;
  auto retry = [&](const Mutation& m) {
    if (m.state != MutationState::failed || !directions.pushes(m.collection)) return;
    if (!queue.retry(m.id, now_ms, ids.next())) return;
    touched.emplace(m.collection, m.doc_id);
    ++retried;
  };
  if (id) {
    if (std::optional<Mutation> m = queue.find(*id)) retry(*m);
  } else {
    // One by one in queue order, a page at a time: each sees the ones before it back in
    // the queue, so only the oldest of a document can head its queue. queue.retry all is
    // as costly as the dead letters are many.
    constexpr size_t kPage = 1000;
    int64_t after = 0;
    while (true) {
      std::vector<Mutation> page = queue.list(MutationState::failed, kPage, after);
      for (const Mutation& m : page) retry(m);
      if (page.size() < kPage) break;
      after = page.back().seq;
    }
  }
  for (const auto& [collection, doc_id] : touched) {
    auto view = rebuild_local_view(documents, queue, collection, doc_id, now_ms);
    changes.push_back({collection, doc_id, std::move(view)});
  }
  tx.commit();
  return retried;
}

}  // namespace syncd
