// The engine's behaviour against an in-memory remote of each protocol: per-document
// order, exactly once when an answer is lost, a refused request split down to its one
// bad mutation, the seeded backoff, the circuit breaker, and a pulled change rebasing a
// pending write. A new protocol adds its fake server to INSTANTIATE_TEST_SUITE_P and
// inherits every test here.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include "queue/local_writes.h"
#include "sync/remote.h"
#include "sync/sync_engine.h"
#include "tests/sync/fakes/deferred_tables.h"
#include "tests/sync/fakes/fake_remote.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

struct RemoteCase {
  const char* name;
  std::function<std::unique_ptr<testing::FakeServer>()> make;
  // The engine's table work waits for later loop turns (a busy applier) or runs at once.
  bool tables_deferred = false;
};
void PrintTo(const RemoteCase& c, std::ostream* os) { *os << c.name; }

class EngineSuite : public ::testing::TestWithParam<RemoteCase> {
 protected:
  static constexpr uint64_t kSeed = 77;

  EngineSuite() {
    uv_loop_init(&loop_);
    RemoteSettings remote;
    remote.endpoint = {"http://remote.test", server_->protocol()};
    remote.client_id = "device-1";
    settings_.batch_size = 4;
    settings_.max_inflight = 1;
    settings_.backoff = {1000, 2.0, 60000};
    settings_.breaker_threshold = 3;
    settings_.breaker_cooldown_ms = 100000;
    settings_.pull_interval_ms = 3600000;  // no periodic pull within a test's clock
    remote_ = make_remote(http_, *db_, clock_, remote);
    if (GetParam().tables_deferred) {
      deferred_ = std::make_unique<testing::DeferredTableAccess>(&loop_);
    }
    TableAccess& tables = deferred_ ? static_cast<TableAccess&>(*deferred_) : immediate_;
    engine_ =
        std::make_unique<SyncEngine>(&loop_, *db_, docs_, queue_, tables, *remote_, clock_, random_,
                                     ids_, settings_, [](std::vector<RemoteChange>) {});
  }
  ~EngineSuite() override {
    if (deferred_) {
      // It made the engine wait at least once for each kind of work it does.
      EXPECT_GT(deferred_->deferred(), 0u);
      deferred_->close();
    }
    engine_->stop(nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  // Runs the loop and answers requests until `done` holds, or false after 5 s.
  bool settle_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      engine_->kick();
      uv_run(&loop_, UV_RUN_NOWAIT);
      http_.pump();
      if (done()) return true;
    }
    return false;
  }
  // Runs the loop for `ms` of real time, answering what comes (for "nothing is sent").
  void settle_for(int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      engine_->kick();
      uv_run(&loop_, UV_RUN_NOWAIT);
      http_.pump();
    }
  }
  // The engine has taken in the failed answer of push `n` (its backoff is running).
  bool push_failed(int n) {
    return server_->push_requests == n && engine_->status().next_retry_ms.has_value();
  }
  bool drained() {
    QueueCounts c = queue_.counts();
    return c.pending == 0 && c.inflight == 0;
  }
  void go_online() {
    engine_->start();
    // Online, and the first pull is done (it would close a breaker a test opens).
    ASSERT_TRUE(settle_until([&] {
      return engine_->status().connectivity == Connectivity::online &&
             engine_->status().last_pull_ms.has_value();
    }));
  }
  void write(MutationOp op, const std::string& id, const std::string& json) {
    JsonDocument data;
    ASSERT_FALSE(parse_json(json, data));
    Transaction tx(*db_);
    writes_.apply(LocalWrite{op, "c", id, &data});
    tx.commit();
  }
  std::optional<std::string> server_data(const std::string& id) {
    auto it = server_->docs.find({"c", id});
    return it == server_->docs.end() ? std::nullopt : it->second.data;
  }
  std::optional<std::string> local_view(const std::string& id) {
    auto doc = docs_.find("c", id);
    return doc ? doc->local_data : std::nullopt;
  }

  std::unique_ptr<testing::FakeServer> server_ = GetParam().make();
  testing::PumpedTransport http_{*server_};
  ::syncd::testing::TempDir dir_;
  std::unique_ptr<Database> db_ = ::syncd::testing::open_test_database(dir_.file("e.db"));
  DocumentStore docs_{*db_};
  MutationQueue queue_{*db_};
  FakeClock clock_{1'800'000'000'000};
  Xoshiro256 random_{kSeed};
  Xoshiro256 id_random_{5};
  Uuid7Generator ids_{clock_, id_random_};
  LocalWrites writes_{docs_, queue_, ids_, clock_, 1 << 20};
  uv_loop_t loop_{};
  SyncSettings settings_;
  std::unique_ptr<Remote> remote_;
  ImmediateTableAccess immediate_;
  std::unique_ptr<testing::DeferredTableAccess> deferred_;
  std::unique_ptr<SyncEngine> engine_;
};

TEST_P(EngineSuite, EachDocumentsWritesReachTheServerInOrderEachOnce) {
  go_online();
  for (int v = 1; v <= 3; ++v) write(MutationOp::put, "a", R"({"v":)" + std::to_string(v) + "}");
  write(MutationOp::put, "b", R"({"v":1})");
  write(MutationOp::patch, "a", R"({"w":1})");
  ASSERT_TRUE(settle_until([&] { return drained(); }));
  EXPECT_EQ(server_data("a"), R"({"v":3,"w":1})");
  EXPECT_EQ(server_data("b"), R"({"v":1})");
  EXPECT_EQ(std::count(server_->applied_order.begin(), server_->applied_order.end(), "c/a"), 4);
  for (const auto& [id, times] : server_->times_applied) EXPECT_EQ(times, 1) << id;
  EXPECT_EQ(server_->times_applied.size(), 5u);
  EXPECT_EQ(local_view("a"), server_data("a"));
}

TEST_P(EngineSuite, AnAnswerLostAfterTheServerAppliedIsResentAndAppliedOnce) {
  go_online();
  server_->lose_answer_of_next_push = 1;
  write(MutationOp::put, "a", R"({"v":1})");
  write(MutationOp::put, "b", R"({"v":1})");
  ASSERT_TRUE(settle_until([&] { return push_failed(1); }));
  EXPECT_FALSE(drained()) << "the answer was lost: not acknowledged yet";
  clock_.advance_ms(settings_.backoff.max_ms);
  ASSERT_TRUE(settle_until([&] { return drained(); }));
  EXPECT_GE(server_->push_requests, 2);
  EXPECT_EQ(server_->times_applied.size(), 2u);
  for (const auto& [id, times] : server_->times_applied) EXPECT_EQ(times, 1) << id;
}

TEST_P(EngineSuite, ARefusedRequestIsSplitUntilItsOneBadMutationIsADeadLetter) {
  go_online();
  server_->refuse_requests_with = "bad";
  for (const char* id : {"a", "b", "bad", "d"}) write(MutationOp::put, id, R"({"v":1})");
  ASSERT_TRUE(settle_until([&] { return drained(); }));
  EXPECT_EQ(queue_.counts().failed, 1);
  EXPECT_FALSE(server_data("bad"));
  for (const char* id : {"a", "b", "d"}) EXPECT_EQ(server_data(id), R"({"v":1})") << id;
  for (const auto& [id, times] : server_->times_applied) EXPECT_EQ(times, 1) << id;
  EXPECT_NE(engine_->status().last_error.find("push refused"), std::string::npos)
      << engine_->status().last_error;
}

TEST_P(EngineSuite, ABusyServerIsAskedAgainOnlyAfterTheSeededBackoff) {
  go_online();
  server_->busy_pushes_next = 1;
  write(MutationOp::put, "a", R"({"v":1})");
  ASSERT_TRUE(settle_until([&] { return push_failed(1); }));
  Xoshiro256 same_random{kSeed};
  Backoff expected(settings_.backoff, same_random);
  const int64_t delay = expected.delay_ms(1);
  ASSERT_GT(delay, 1);
  clock_.advance_ms(delay - 1);
  settle_for(30);
  EXPECT_EQ(server_->push_requests, 1) << "not before the backoff";
  clock_.advance_ms(1);
  ASSERT_TRUE(settle_until([&] { return drained(); }));
  EXPECT_EQ(server_->push_requests, 2);
  EXPECT_EQ(server_data("a"), R"({"v":1})");
}

TEST_P(EngineSuite, TheBreakerOpensAtItsThresholdAndLetsOneThroughAfterItsCooldown) {
  go_online();
  server_->busy_pushes_next = 1000;
  write(MutationOp::put, "a", R"({"v":1})");
  for (int failures = 1; failures <= 3; ++failures) {
    ASSERT_TRUE(settle_until([&] { return push_failed(failures); })) << failures;
    clock_.advance_ms(settings_.backoff.max_ms);
  }
  ASSERT_EQ(engine_->status().breaker, BreakerState::open);
  settle_for(30);
  EXPECT_EQ(server_->push_requests, 3) << "open: nothing is sent";
  clock_.advance_ms(settings_.breaker_cooldown_ms);
  ASSERT_TRUE(settle_until([&] { return server_->push_requests == 4; }));
  settle_for(30);
  EXPECT_EQ(server_->push_requests, 4) << "one probe, which failed: open again";
  EXPECT_EQ(engine_->status().breaker, BreakerState::open);
  server_->busy_pushes_next = 0;
  clock_.advance_ms(settings_.breaker_cooldown_ms + settings_.backoff.max_ms);
  ASSERT_TRUE(settle_until([&] { return drained(); }));
  EXPECT_EQ(engine_->status().breaker, BreakerState::closed);
}

TEST_P(EngineSuite, APulledChangeRebasesAPendingWriteAndBothReachTheServer) {
  go_online();
  write(MutationOp::put, "a", R"({"v":1})");
  ASSERT_TRUE(settle_until([&] { return drained(); }));
  // Pushes fail until the breaker opens, so the pull comes while the patch is pending.
  server_->busy_pushes_next = 3;
  write(MutationOp::patch, "a", R"({"mine":1})");
  server_->remote_write("c", "a", R"({"v":2})");
  for (int failures = 2; failures <= 4; ++failures) {
    ASSERT_TRUE(settle_until([&] { return push_failed(failures); })) << failures;
    clock_.advance_ms(settings_.backoff.max_ms);
  }
  ASSERT_EQ(engine_->status().breaker, BreakerState::open);
  engine_->sync_now();  // the breaker holds the push back; the pull goes
  ASSERT_TRUE(settle_until([&] { return local_view("a") == R"({"v":2,"mine":1})"; }))
      << local_view("a").value_or("(none)");
  clock_.advance_ms(settings_.breaker_cooldown_ms);
  ASSERT_TRUE(settle_until([&] { return drained(); }));
  EXPECT_EQ(server_data("a"), R"({"v":2,"mine":1})");
  EXPECT_EQ(local_view("a"), server_data("a"));
}

INSTANTIATE_TEST_SUITE_P(
    Protocols, EngineSuite,
    ::testing::Values(RemoteCase{"v1", testing::make_fake_v1_server},
                      RemoteCase{"v1_tables_deferred", testing::make_fake_v1_server, true}),
    [](const ::testing::TestParamInfo<RemoteCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace syncd
