// The conflict applier: a merge on the base the write was made on, and a patch whose
// base a pull has replaced merged onto the server's document (as the local view shows
// it), not lost.
#include "sync/conflict_applier.h"

#include <gtest/gtest.h>

#include "queue/local_writes.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

class ConflictApplierTest : public ::testing::Test {
 protected:
  // A document the server has at version 1, and a local patch made on it.
  Mutation patch_on_version_1(const char* server_data, const char* patch) {
    Transaction tx(*db_);
    docs_.set_server_state("c", "a", std::string(server_data), "1", 0);
    docs_.set_local_view("c", "a", std::string(server_data), 0);
    JsonDocument data;
    EXPECT_FALSE(parse_json(patch, data));
    LocalWriteResult r = writes_.apply(LocalWrite{MutationOp::patch, "c", "a", &data});
    tx.commit();
    return *queue_.find(r.mutation_id);
  }
  // What the queue sends instead, after the applier decided on `r`.
  std::optional<Mutation> apply(const Mutation& m, const PushResult& r) {
    Transaction tx(*db_);
    std::vector<RemoteChange> changes;
    applier_.apply(m, r, changes);
    tx.commit();
    auto queued = queue_.list(std::nullopt, 10);
    if (queued.empty()) return std::nullopt;
    return queued.front();
  }
  static PushResult conflict_at(const char* version, const char* data) {
    PushResult r;
    r.kind = PushResult::Kind::conflict;
    r.current_version = version;
    r.current_data = data;
    return r;
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("c.db"));
  DocumentStore docs_{*db_};
  MutationQueue queue_{*db_};
  FakeClock clock_{1'800'000'000'000};
  Xoshiro256 random_{3};
  Uuid7Generator ids_{clock_, random_};
  LocalWrites writes_{docs_, queue_, ids_, clock_, 1 << 20};
  Directions directions_;
  ConflictApplier applier_{*db_, docs_, queue_, ids_, clock_, ConflictPolicies(), directions_};
};

TEST_F(ConflictApplierTest, AMergeUsesTheVersionTheWriteWasMadeOn) {
  Mutation m = patch_on_version_1(R"({"a":1,"b":1})", R"({"a":2})");
  auto next = apply(m, conflict_at("2", R"({"a":1,"b":3})"));
  ASSERT_TRUE(next);
  EXPECT_NE(next->id, m.id) << "a new id: the old one has its answer on the server";
  EXPECT_EQ(next->op, MutationOp::put);
  EXPECT_EQ(next->payload, R"({"a":2,"b":3})");
  EXPECT_EQ(next->base_version, "2");
}

TEST_F(ConflictApplierTest, APatchWhoseBaseAPullReplacedIsMergedOntoTheServersDocument) {
  Mutation m = patch_on_version_1(R"({"v":1})", R"({"mine":1})");
  {
    // A pull brought version 2 while the patch waited: the base it was made on is gone.
    Transaction tx(*db_);
    docs_.set_server_state("c", "a", std::string(R"({"v":2})"), "2", 0);
    tx.commit();
  }
  auto next = apply(m, conflict_at("2", R"({"v":2})"));
  ASSERT_TRUE(next) << "dropped: the patch would be lost";
  EXPECT_EQ(next->payload, R"({"v":2,"mine":1})");
  EXPECT_EQ(next->base_version, "2");
}

}  // namespace
}  // namespace syncd
