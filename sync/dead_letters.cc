#include "sync/dead_letters.h"

#include <set>
#include <utility>

#include "queue/local_writes.h"

namespace syncd {

void dead_letter(DocumentStore& documents, MutationQueue& queue, const Mutation& m,
                 std::string_view error, int64_t now_ms, std::vector<RemoteChange>& changes) {
  Transaction tx(queue.database());
  queue.dead_letter(m.id, error);
  auto view = rebuild_local_view(documents, queue, m.collection, m.doc_id, now_ms);
  tx.commit();
  changes.push_back({m.collection, m.doc_id, std::move(view)});
}

int64_t retry_dead_letters(DocumentStore& documents, MutationQueue& queue, Uuid7Generator& ids,
                           std::optional<std::string_view> id, int64_t now_ms,
                           std::vector<RemoteChange>& changes) {
  Transaction tx(queue.database());
  std::set<std::pair<std::string, std::string>> touched;
  int64_t retried = 0;
  if (id) {
    std::optional<Mutation> m = queue.find(*id);
    if (m && m->state == MutationState::failed && queue.retry(*id, now_ms, ids.next())) {
      touched.emplace(m->collection, m->doc_id);
      retried = 1;
    }
  } else {
    // Every dead letter is visited once, a page at a time: their documents' views are
    // rebuilt below. queue.retry all is as costly as the dead letters are many.
    constexpr size_t kPage = 1000;
    int64_t after = 0;
    while (true) {
      std::vector<Mutation> page = queue.list(MutationState::failed, kPage, after);
      for (const Mutation& m : page) touched.emplace(m.collection, m.doc_id);
      if (page.size() < kPage) break;
      after = page.back().seq;
    }
    retried = queue.retry_all_failed(now_ms, [&ids] { return ids.next(); });
  }
  for (const auto& [collection, doc_id] : touched) {
    auto view = rebuild_local_view(documents, queue, collection, doc_id, now_ms);
    changes.push_back({collection, doc_id, std::move(view)});
  }
  tx.commit();
  return retried;
}

}  // namespace syncd
