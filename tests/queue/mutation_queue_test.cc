#include "queue/mutation_queue.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <functional>

#include "store/document_store.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

class MutationQueueTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("q.db"));
  std::unique_ptr<MutationQueue> queue_ = std::make_unique<MutationQueue>(*db_);
  int next_ = 0;

  std::string add(const std::string& doc, size_t payload_bytes = 10, int64_t created = 0,
                  std::optional<std::string> base = std::nullopt) {
    // As a local write does: the document's row, then its mutation.
    DocumentStore(*db_).set_local_view("c", doc, std::string("{}"), 1);
    Mutation m;
    m.base_version = std::move(base);
    m.id = "m" + std::to_string(++next_);
    m.collection = "c";
    m.doc_id = doc;
    m.payload = std::string(payload_bytes, 'x');
    m.created_at_ms = created ? created : next_;
    queue_->enqueue(m);
    return m.id;
  }
  void applied(const Mutation& m, const std::string& version) {
    queue_->ack_applied({{m.seq, m.collection, m.doc_id, version}});
  }
  std::optional<std::string> base_of(const std::string& id) {
    return queue_->find(id)->base_version;
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
  EXPECT_TRUE(queue_->retry("m1", 0, "m1-again"));
  EXPECT_FALSE(queue_->retry("m1-again", 0, "m1-thrice")) << "already pending";
  EXPECT_EQ(queue_->counts().pending, 1);
  EXPECT_FALSE(queue_->find("m1")) << "sent under its new id: the remote remembers the old one";
  EXPECT_EQ(queue_->find("m1-again")->state, MutationState::pending);
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
  EXPECT_TRUE(queue_->retry("m1", 0, "r1"));
  EXPECT_TRUE(queue_->retry("m2", 0, "r2"));
  EXPECT_EQ(queue_->counts().pending, 2);
  EXPECT_EQ(ids(queue_->lease(0, 10, 1 << 20)), (std::vector<std::string>{"r1", "r2"}));
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

TEST_F(MutationQueueTest, AnAcknowledgementRebasesTheRestOfItsDocumentsQueue) {
  add("a", 10, 0, "v1");  // m1
  add("a", 10, 0, "v1");  // m2, made on top of m1
  add("a", 10, 0, "v1");  // m3
  add("b", 10, 0, "v1");  // m4
  auto batch = queue_->lease(0, 10, 1 << 20);
  ASSERT_EQ(ids(batch), (std::vector<std::string>{"m1", "m4"}));
  applied(batch[0], "v5");
  EXPECT_EQ(base_of("m2"), "v5");
  EXPECT_EQ(base_of("m3"), "v5");
  EXPECT_EQ(base_of("m4"), "v1") << "another document";
  add("a", 10, 0, "v7");  // m5: made after the acknowledgement, on a version pulled since
  EXPECT_EQ(base_of("m5"), "v7") << "its author saw v7";
  auto next = queue_->lease(0, 10, 1 << 20);
  ASSERT_EQ(ids(next), (std::vector<std::string>{"m2"}));
  EXPECT_EQ(next[0].base_version, "v5");
  applied(next[0], "v6");
  EXPECT_EQ(base_of("m3"), "v6");
  EXPECT_EQ(base_of("m5"), "v6") << "made on top of m2 too";
}

TEST_F(MutationQueueTest, ADeadLetterKeepsTheBaseItWouldHaveBeenSentOn) {
  add("a", 10, 0, "v1");
  add("a", 10, 0, "v1");
  add("a", 10, 0, "v1");
  applied(queue_->lease(0, 10, 1 << 20)[0], "v5");
  ASSERT_EQ(ids(queue_->lease(0, 10, 1 << 20)), (std::vector<std::string>{"m2"}));
  EXPECT_TRUE(queue_->dead_letter("m2", "rejected"));
  auto next = queue_->lease(0, 10, 1 << 20);
  ASSERT_EQ(ids(next), (std::vector<std::string>{"m3"}));
  EXPECT_EQ(next[0].base_version, "v5") << "made on top of m1 and m2";
  applied(next[0], "v6");
  EXPECT_EQ(base_of("m2"), "v5");
}

TEST_F(MutationQueueTest, AReplacedMutationHasItsOwnBaseAndTheRestKeepTheRebase) {
  add("a", 10, 0, "v1");
  add("a", 10, 0, "v1");
  add("a", 10, 0, "v1");
  applied(queue_->lease(0, 10, 1 << 20)[0], "v5");
  Mutation m2 = queue_->lease(0, 10, 1 << 20).at(0);
  Mutation fresh = m2;
  fresh.id = "m2-resolved";
  fresh.base_version = "v9";  // a conflict: resolved on the server's current version
  queue_->replace(m2.id, fresh);
  EXPECT_EQ(base_of("m3"), "v5");
  auto next = queue_->lease(0, 10, 1 << 20);
  ASSERT_EQ(ids(next), (std::vector<std::string>{"m2-resolved"}));
  EXPECT_EQ(next[0].base_version, "v9");
  EXPECT_EQ(next[0].seq, m2.seq);
  applied(next[0], "v10");
  EXPECT_EQ(base_of("m3"), "v10");
}

TEST_F(MutationQueueTest, ARetriedDeadLetterWaitsWhileItsDocumentHasAMutationInFlight) {
  add("a");
  add("a");
  queue_->lease(0, 10, 1 << 20);
  queue_->dead_letter("m1", "rejected");
  Mutation m2 = queue_->lease(0, 10, 1 << 20).at(0);
  EXPECT_TRUE(queue_->retry("m1", 0, "m1b"));
  EXPECT_TRUE(queue_->lease(0, 10, 1 << 20).empty()) << "m2 is in flight: one per document";
  applied(m2, "v2");
  EXPECT_EQ(ids(queue_->lease(0, 10, 1 << 20)), (std::vector<std::string>{"m1b"}));
}

TEST_F(MutationQueueTest, RetryAllGivesEachDocumentOneHead) {
  add("a");
  add("a");
  add("b");
  queue_->lease(0, 10, 1 << 20);
  queue_->dead_letter("m1", "x");
  queue_->dead_letter(queue_->lease(0, 10, 1 << 20).at(0).id, "y");  // m2
  queue_->dead_letter("m3", "z");
  // In queue order, as queue.retry all does (sync/dead_letters.cc).
  for (const char* id : {"m1", "m2", "m3"}) {
    EXPECT_TRUE(queue_->retry(id, 0, std::string("r") + id[1]));
  }
  EXPECT_EQ(ids(queue_->lease(0, 10, 1 << 20)), (std::vector<std::string>{"r1", "r3"}));
}

// SQLite virtual machine steps taken by `work` (a deterministic measure of its cost).
int64_t vm_steps(Database& db, const std::function<void()>& work) {
  int64_t steps = 0;
  sqlite3_progress_handler(
      db.handle(), 10,
      [](void* n) {
        ++*static_cast<int64_t*>(n);
        return 0;
      },
      &steps);
  work();
  sqlite3_progress_handler(db.handle(), 0, nullptr, nullptr);
  return steps * 10;
}

// A hot document: the cost of a lease and an acknowledgement must not grow with the
// mutations queued behind it (it did: each lease stepped over all of them, each
// acknowledgement rewrote all of them, which made draining them quadratic).
TEST_F(MutationQueueTest, LeaseAndAcknowledgementDoNotGrowWithAHotDocumentsQueue) {
  auto cost_with = [&](int queued) {
    testing::TempDir dir;
    auto db = testing::open_test_database(dir.file("hot.db"));
    MutationQueue queue(*db);
    DocumentStore docs(*db);
    Transaction tx(*db);
    docs.set_local_view("c", "hot", std::string("{}"), 1);
    docs.set_local_view("c", "cold", std::string("{}"), 1);
    for (int i = 0; i < queued; ++i) {
      Mutation m;
      m.id = "h" + std::to_string(i);
      m.collection = "c";
      m.doc_id = "hot";
      m.payload = std::string(100, 'x');
      queue.enqueue(m);
    }
    Mutation cold;
    cold.id = "cold";
    cold.collection = "c";
    cold.doc_id = "cold";
    queue.enqueue(cold);
    tx.commit();
    std::vector<Mutation> first = queue.lease(0, 10, 1 << 20);  // h0 and cold
    return vm_steps(*db, [&] {
      Transaction t(*db);
      queue.ack_applied({{first[0].seq, "c", "hot", "v2"}});
      t.commit();
      queue.lease(0, 10, 1 << 20);
      queue.lease(0, 10, 1 << 20);  // nothing: h1 is in flight
    });
  };
  const int64_t small = cost_with(10);
  const int64_t large = cost_with(5000);
  EXPECT_LT(large, small * 2) << "steps with 10 queued: " << small << ", with 5,000: " << large;
}

}  // namespace
}  // namespace syncd
