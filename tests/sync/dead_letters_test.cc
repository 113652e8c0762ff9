// A dead letter leaves the local view and a retry brings it back, whatever else is
// queued for the document.
#include "sync/dead_letters.h"

#include "tests/queue/local_store_fixture.h"

namespace syncd {
namespace {

class DeadLettersTest : public LocalStoreTest {
 protected:
  DeadLettersTest() : LocalStoreTest(1 << 20) {}
  std::optional<std::string> view(const std::string& id) {
    return docs_.find("notes", id)->local_data;
  }
};

TEST_F(DeadLettersTest, ARefusedPutLeavesTheViewAndARetryBringsItBack) {
  const std::string put = apply_json(writes_, MutationOp::put, "a", R"({"t":1})").mutation_id;
  apply_json(writes_, MutationOp::patch, "a", R"({"u":2})");
  std::vector<RemoteChange> changes;
  dead_letter(docs_, queue_, Directions(), *queue_.find(put), "refused", clock_.now_ms(), changes);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].data) << "the patch alone applies to nothing";
  EXPECT_FALSE(view("a"));
  EXPECT_EQ(queue_.find(put)->state, MutationState::failed);

  changes.clear();
  EXPECT_EQ(retry_dead_letters(docs_, queue_, ids_, Directions(), put, clock_.now_ms(), changes),
            1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].data, R"({"t":1,"u":2})");
  EXPECT_EQ(view("a"), R"({"t":1,"u":2})") << "back, under the patch made after it";
  EXPECT_FALSE(queue_.find(put)) << "queued again under a new id";
  auto queued = queue_.list(std::nullopt, 10);
  ASSERT_EQ(queued.size(), 2u);
  EXPECT_NE(queued[0].id, put);
  EXPECT_EQ(queued[0].state, MutationState::pending);
  EXPECT_EQ(queued[0].payload, R"({"t":1})") << "the same write, in its old place";
  EXPECT_TRUE(docs_.find("notes", "a")->pending);
}

TEST_F(DeadLettersTest, RetryAllBringsEveryDeadLetterBackOnce) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(apply_json(writes_, MutationOp::put, "d" + std::to_string(i % 3), R"({"n":1})")
                      .mutation_id);
  }
  std::vector<RemoteChange> changes;
  for (const auto& id : ids)
    dead_letter(docs_, queue_, Directions(), *queue_.find(id), "no", 0, changes);
  EXPECT_FALSE(view("d0"));
  changes.clear();
  EXPECT_EQ(
      retry_dead_letters(docs_, queue_, ids_, Directions(), std::nullopt, clock_.now_ms(), changes),
      5);
  EXPECT_EQ(changes.size(), 3u) << "one change per document";
  for (const char* id : {"d0", "d1", "d2"}) EXPECT_EQ(view(id), R"({"n":1})") << id;
  EXPECT_EQ(queue_.counts().failed, 0);
  for (const auto& id : ids) EXPECT_FALSE(queue_.find(id)) << "each under a new id";
  auto queued = queue_.list(MutationState::pending, 10);
  ASSERT_EQ(queued.size(), 5u);
  EXPECT_EQ(retry_dead_letters(docs_, queue_, ids_, Directions(), queued[0].id, 0, changes), 0)
      << "not failed any more";
}

// Review (branch review2): a collection that becomes `local` keeps its queued mutations
// until they drain (issue 9), and writes made after that are kept in the local view only.
// But every place that rebuilds a view from "server state + unfinished mutations" (a
// dead letter, a conflict resolution, a retry) forgets the local-only write, which is in
// neither: an acknowledged write vanishes from the device.
TEST_F(DeadLettersTest, ReviewALocalOnlyWriteSurvivesTheDeadLetterOfAWriteQueuedBeforeItWentLocal) {
  const std::string first = apply_json(writes_, MutationOp::put, "a", R"({"v":1})").mutation_id;
  writes_.set_directions(Directions(Direction::both, {{"notes", Direction::local}}));  // SIGHUP
  apply_json(writes_, MutationOp::put, "a", R"({"v":2})");
  ASSERT_EQ(view("a"), R"({"v":2})");
  std::vector<RemoteChange> changes;
  const Directions now_local(Direction::both, {{"notes", Direction::local}});
  dead_letter(docs_, queue_, now_local, *queue_.find(first), "refused", clock_.now_ms(), changes);
  EXPECT_EQ(view("a"), R"({"v":2})") << "the acknowledged local write is gone from the view";
}

}  // namespace
}  // namespace syncd
