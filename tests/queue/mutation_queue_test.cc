#include "queue/mutation_queue.h"

#include <gtest/gtest.h>

#include "tests/test_support.h"

namespace syncd {
namespace {

class MutationQueueTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("q.db"));
  std::unique_ptr<MutationQueue> queue_ = std::make_unique<MutationQueue>(*db_);
  int next_ = 0;

  std::string add(const std::string& doc, size_t payload_bytes = 10, int64_t created = 0) {
    Mutation m;
    m.id = "m" + std::to_string(++next_);
    m.collection = "c";
    m.doc_id = doc;
    m.payload = std::string(payload_bytes, 'x');
    m.created_at_ms = created ? created : next_;
    queue_->enqueue(m);
    return m.id;
  }
  static std::vector<std::string> ids(const std::vector<Mutation>& batch) {
    std::vector<std::string> out;
    for (const auto& m : batch) out.push_back(m.id);
    return out;
  }
};

TEST_F(MutationQueueTest, LeasesInQueueOrderAtMostOnePerDocument) {
  add("a");  // m1
  add("b");  // m2
  add("a");  // m3
  add("c");  // m4
  add("b");  // m5
  auto batch = queue_->lease(0, 10, 1 << 20);
  EXPECT_EQ(ids(batch), (std::vector<std::string>{"m1", "m2", "m4"}));
  for (const auto& m : batch) {
    EXPECT_EQ(m.state, MutationState::inflight);
    EXPECT_EQ(m.attempts, 1);
  }
  // Documents with an inflight mutation are not leased again.
  EXPECT_TRUE(queue_->lease(0, 10, 1 << 20).empty());
  queue_->ack("m1");
  EXPECT_EQ(ids(queue_->lease(0, 10, 1 << 20)), (std::vector<std::string>{"m3"}));
  queue_->ack("m2");
  queue_->ack("m4");
  EXPECT_EQ(ids(queue_->lease(0, 10, 1 << 20)), (std::vector<std::string>{"m5"}));
}

TEST_F(MutationQueueTest, CountAndBytesLimitTheBatchButOneAlwaysFits) {
  for (int i = 0; i < 5; ++i) add("d" + std::to_string(i), 100);
  EXPECT_EQ(queue_->lease(0, 2, 1 << 20).size(), 2u);
  EXPECT_EQ(queue_->lease(0, 10, 150).size(), 1u);
  add("big", 10000);
  EXPECT_EQ(queue_->lease(0, 10, 250).size(), 2u);
  EXPECT_EQ(ids(queue_->lease(0, 10, 50)), (std::vector<std::string>{"m6"}));
}

TEST_F(MutationQueueTest, FailedAttemptWaitsForItsRetryTimeAndBlocksItsDocument) {
  add("a");
  add("a");
  add("b");
  auto batch = queue_->lease(1000, 10, 1 << 20);
  ASSERT_EQ(ids(batch), (std::vector<std::string>{"m1", "m3"}));
  EXPECT_TRUE(queue_->fail("m1", 5000, "connection refused"));
  queue_->ack("m3");
  EXPECT_TRUE(queue_->lease(4999, 10, 1 << 20).empty()) << "m2 must wait behind m1";
  auto again = queue_->lease(5000, 10, 1 << 20);
  ASSERT_EQ(ids(again), (std::vector<std::string>{"m1"}));
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_EQ(*again[0].last_error, "connection refused");
  EXPECT_FALSE(queue_->fail("m2", 0, "not inflight")) << "only an inflight mutation can fail";
}

TEST_F(MutationQueueTest, DeadLetterFreesTheDocumentAndRetryBringsItBack) {
  add("a");
  add("a");
  queue_->lease(0, 10, 1 << 20);
  EXPECT_TRUE(queue_->dead_letter("m1", "rejected: bad field"));
  auto next = queue_->lease(0, 10, 1 << 20);
  EXPECT_EQ(ids(next), (std::vector<std::string>{"m2"}));
  QueueCounts counts = queue_->counts();
  EXPECT_EQ(counts.failed, 1);
  EXPECT_EQ(counts.inflight, 1);
  EXPECT_EQ(ids(queue_->list(MutationState::failed, 10)), (std::vector<std::string>{"m1"}));
  EXPECT_TRUE(queue_->retry("m1", 0));
  EXPECT_FALSE(queue_->retry("m1", 0)) << "already pending";
  EXPECT_EQ(queue_->counts().pending, 1);
}

TEST_F(MutationQueueTest, ConflictBlocksLaterMutationsOfTheDocument) {
  add("a");
  add("a");
  queue_->lease(0, 10, 1 << 20);
  EXPECT_TRUE(queue_->mark_conflict("m1", "remote changed"));
  EXPECT_TRUE(queue_->lease(0, 10, 1 << 20).empty());
  EXPECT_EQ(queue_->counts().conflict, 1);
}

TEST_F(MutationQueueTest, RetryAllMovesEveryFailedMutation) {
  add("a");
  add("b");
  queue_->lease(0, 10, 1 << 20);
  queue_->dead_letter("m1", "x");
  queue_->dead_letter("m2", "y");
  EXPECT_EQ(queue_->retry_all_failed(0), 2);
  EXPECT_EQ(queue_->counts().pending, 2);
}

TEST_F(MutationQueueTest, InflightLeasesReturnToPendingAfterARestart) {
  add("a");
  add("b");
  ASSERT_EQ(queue_->lease(0, 10, 1 << 20).size(), 2u);
  // Restart: a new connection and queue on the same file.
  queue_.reset();
  db_.reset();
  db_ = testing::open_test_database(dir_.file("q.db"));
  queue_ = std::make_unique<MutationQueue>(*db_);
  EXPECT_EQ(queue_->counts().inflight, 2);
  EXPECT_EQ(queue_->recover_inflight(), 2);
  auto batch = queue_->lease(0, 10, 1 << 20);
  EXPECT_EQ(ids(batch), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(batch[0].attempts, 2);
}

TEST_F(MutationQueueTest, CountsOldestAndPagedListing) {
  EXPECT_FALSE(queue_->oldest_pending_created_ms());
  add("a", 1, 500);
  add("b", 1, 700);
  add("c", 1, 900);
  EXPECT_EQ(*queue_->oldest_pending_created_ms(), 500);
  queue_->lease(0, 1, 1 << 20);  // m1 inflight
  EXPECT_EQ(*queue_->oldest_pending_created_ms(), 700);
  auto first = queue_->list(std::nullopt, 2);
  EXPECT_EQ(ids(first), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(ids(queue_->list(std::nullopt, 2, first.back().seq)), (std::vector<std::string>{"m3"}));
  EXPECT_EQ(queue_->counts().pending, 2);
  EXPECT_EQ(queue_->find("m2")->doc_id, "b");
  EXPECT_FALSE(queue_->find("nope"));
}

}  // namespace
}  // namespace syncd
