// The sync engine with a fake HTTP transport, a fake clock and a seeded random source:
// retry schedules, the circuit breaker and the isolation of a refused mutation, exactly.
#include "sync/sync_engine.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <deque>

#include "queue/local_writes.h"
#include "store/meta_store.h"
#include "sync/token_store.h"
#include "tests/sync/fakes/held_transport.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

using FakeTransport = testing::HeldTransport;

HttpResponse status(int code, std::string body = "{}",
                    std::map<std::string, std::string> headers = {}) {
  HttpResponse r;
  r.status = code;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

// An "applied" answer for every mutation of a push body.
HttpResponse applied_all(const std::string& push_body, int& version) {
  JsonDocument doc;
  EXPECT_FALSE(parse_json(push_body, doc));
  std::string results;
  for (const auto& m : doc["mutations"].GetArray()) {
    results += std::string(results.empty() ? "" : ",") + R"({"id":")" + m["id"].GetString() +
               R"(","status":"applied","version":")" + std::to_string(++version) + "\"}";
  }
  return status(200, R"({"results":[)" + results + "]}");
}

size_t mutations_in(const std::string& push_body) {
  JsonDocument doc;
  EXPECT_FALSE(parse_json(push_body, doc));
  return doc["mutations"].Size();
}

class SyncEngineTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSeed = 1234;

  SyncEngineTest() {
    uv_loop_init(&loop_);
    remote_settings_.endpoint.url = "http://sync.test";
    remote_settings_.client_id = "client-1";
    settings_.batch_size = 8;
    settings_.max_inflight = 1;
    settings_.backoff = {1000, 2.0, 60000};
    settings_.breaker_threshold = 3;
    settings_.breaker_cooldown_ms = 10000;
    rebuild();
  }
  // A new engine (not started) on a new remote, with the settings as they are now.
  void rebuild() {
    engine_.reset();
    remote_ = make_remote(http_, *db_, clock_, remote_settings_);
    engine_ = std::make_unique<SyncEngine>(
        &loop_, *db_, docs_, queue_, tables_, *remote_, clock_, random_, ids_, settings_,
        [this](std::vector<RemoteChange> c) { remote_changes_ += c.size(); });
  }
  ~SyncEngineTest() override {
    engine_->stop(nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  void run() {
    for (int i = 0; i < 5; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  }
  // kick() gathers writes for a few milliseconds: wait for its timer, then settle.
  void kick_and_run() {
    engine_->kick();
    uv_run(&loop_, UV_RUN_ONCE);
    run();
  }
  // Lets `ms` pass on the fake clock, then takes the request for `path`, if any.
  std::optional<FakeTransport::Pending> take_after_ms(int64_t ms, const std::string& path) {
    clock_.advance_ms(ms);
    kick_and_run();
    return http_.take(path);
  }
  std::string write(const std::string& id) {
    JsonDocument data;
    EXPECT_FALSE(parse_json(R"({"v":1})", data));
    Transaction tx(*db_);
    auto r = writes_.apply(LocalWrite{MutationOp::put, "c", id, &data});
    tx.commit();
    return r.mutation_id;
  }
  // Starts the engine and answers its health probe: online, its first pull sent.
  void start_and_answer_the_probe() {
    engine_->start();
    run();
    auto probe = http_.take("/v1/health");
    ASSERT_TRUE(probe);
    probe->done(status(200));
    run();
  }
  // Starts the engine and brings it online with an empty first pull.
  void go_online() {
    start_and_answer_the_probe();
    auto pull = http_.take("/v1/pull");
    ASSERT_TRUE(pull);
    pull->done(status(200, R"({"changes":[],"cursor":"0","has_more":false})"));
    run();
    ASSERT_EQ(to_string(engine_->status().connectivity), std::string("online"));
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("e.db"));
  DocumentStore docs_{*db_};
  MutationQueue queue_{*db_};
  FakeClock clock_{1'800'000'000'000};
  Xoshiro256 random_{kSeed};
  Xoshiro256 id_random_{99};
  Uuid7Generator ids_{clock_, id_random_};
  LocalWrites writes_{docs_, queue_, ids_, clock_, 1 << 20};
  uv_loop_t loop_{};
  FakeTransport http_;
  RemoteSettings remote_settings_;
  SyncSettings settings_;
  std::unique_ptr<Remote> remote_;
  ImmediateTableAccess tables_;
  std::unique_ptr<SyncEngine> engine_;
  size_t remote_changes_ = 0;
};

TEST_F(SyncEngineTest, RetriesFollowTheSeededBackoffAndRetryAfterWinsWhenLonger) {
  go_online();
  write("a");
  kick_and_run();
  Xoshiro256 expected_random(kSeed);
  Backoff expected(settings_.backoff, expected_random);

  // Failure 1: HTTP 503 without Retry-After.
  auto push = http_.take("/v1/push");
  ASSERT_TRUE(push);
  push->done(status(503, "busy"));
  run();
  int64_t delay1 = expected.delay_ms(1);
  EXPECT_EQ(engine_->status().next_retry_ms, clock_.now_ms() + delay1);
  EXPECT_EQ(queue_.list(MutationState::pending, 1)[0].next_attempt_at_ms, clock_.now_ms() + delay1);
  EXPECT_EQ(to_string(engine_->status().connectivity), std::string("degraded"));
  EXPECT_FALSE(http_.take("/v1/push")) << "no resend before the retry time";

  // Failure 2: 429 with Retry-After: 120 s, longer than any jitter of the second attempt.
  clock_.advance_ms(delay1);
  kick_and_run();
  push = http_.take("/v1/push");
  ASSERT_TRUE(push);
  push->done(status(429, "slow down", {{"retry-after", "120"}}));
  run();
  expected.delay_ms(2);  // drawn, then beaten by Retry-After
  EXPECT_EQ(engine_->status().next_retry_ms, clock_.now_ms() + 120000);

  // Failure 3 opens the breaker (threshold 3).
  clock_.advance_ms(120000);
  kick_and_run();
  push = http_.take("/v1/push");
  ASSERT_TRUE(push);
  HttpResponse refused;
  refused.error = "Connection refused";
  refused.connect_failed = true;
  push->done(refused);
  run();
  int64_t delay3 = expected.delay_ms(3);
  EXPECT_EQ(engine_->status().next_retry_ms, clock_.now_ms() + delay3);
  EXPECT_EQ(engine_->status().breaker, BreakerState::open);
  EXPECT_EQ(to_string(engine_->status().connectivity), std::string("offline"));
  EXPECT_EQ(engine_->status().last_error, "push failed: Connection refused");
  EXPECT_EQ(engine_->status().last_error_at_ms, clock_.now_ms());
}

TEST_F(SyncEngineTest, TheBreakerAdmitsOneProbeAfterItsCooldown) {
  go_online();
  write("a");
  for (int i = 0; i < 3; ++i) {
    engine_->sync_now();
    run();
    auto push = http_.take("/v1/push");
    ASSERT_TRUE(push) << i;
    push->done(status(500, "oops"));
    run();
  }
  EXPECT_EQ(engine_->status().breaker, BreakerState::open);
  engine_->sync_now();
  run();
  EXPECT_FALSE(http_.take("/v1/push")) << "open breaker: nothing is sent during the cool-down";
  clock_.advance_ms(10000);
  engine_->sync_now();
  run();
  auto probe = http_.take("/v1/push");
  ASSERT_TRUE(probe) << "one request after the cool-down";
  EXPECT_EQ(engine_->status().breaker, BreakerState::half_open);
  int version = 0;
  probe->done(applied_all(probe->request.body, version));
  run();
  EXPECT_EQ(engine_->status().breaker, BreakerState::closed);
  EXPECT_EQ(queue_.counts().pending, 0);
}

TEST_F(SyncEngineTest, ABatchTheServerRefusesIsHalvedUntilTheBadMutationIsADeadLetter) {
  go_online();
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(write("d" + std::to_string(i)));
  const std::string bad = ids[5];
  std::vector<size_t> sizes;
  int version = 0;
  kick_and_run();
  for (int round = 0; round < 20; ++round) {
    auto push = http_.take("/v1/push");
    if (!push) break;
    sizes.push_back(mutations_in(push->request.body));
    if (push->request.body.find(bad) != std::string::npos) {
      push->done(status(400, R"({"error":"field v must be a string"})"));
    } else {
      push->done(applied_all(push->request.body, version));
    }
    run();
  }
  // 0-7 refused; 0-3 applied (and 4-7 sent at once, before the size grows back);
  // 4-7 refused; 4-5 refused; 4 applied (5 sent at once); 5 refused alone: a dead
  // letter; 6-7 applied.
  EXPECT_EQ(sizes, (std::vector<size_t>{8, 4, 4, 2, 1, 1, 2}));
  std::optional<Mutation> dead = queue_.find(bad);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->state, MutationState::failed);
  EXPECT_NE(dead->last_error->find("field v must be a string"), std::string::npos);
  QueueCounts counts = queue_.counts();
  EXPECT_EQ(counts.pending + counts.inflight, 0);
  EXPECT_EQ(counts.failed, 1);
  EXPECT_FALSE(docs_.find("c", "d5")->visible()) << "the refused put leaves no local document";
  EXPECT_TRUE(docs_.find("c", "d4")->server_version.has_value());
}

TEST_F(SyncEngineTest, APulledDocumentNestedTooDeepIsSkippedNamedAndPassed) {
  go_online();
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  engine_->sync_now();
  run();
  auto pull = http_.take("/v1/pull");
  ASSERT_TRUE(pull);
  pull->done(status(200, R"({"changes":[)"
                         R"({"collection":"c","doc_id":"a","version":"1","data":{"v":1}},)"
                         R"({"collection":"c","doc_id":"deep","version":"2","data":{"x":)" +
                             deep +
                             R"(}},)"
                             R"({"collection":"c","doc_id":"b","version":"3","data":{"v":3}}],)"
                             R"("cursor":"3","has_more":false})"));
  run();
  ASSERT_TRUE(docs_.find("c", "a"));
  EXPECT_EQ(*docs_.find("c", "a")->local_data, R"({"v":1})");
  ASSERT_TRUE(docs_.find("c", "b"));
  EXPECT_EQ(*docs_.find("c", "b")->local_data, R"({"v":3})");
  EXPECT_FALSE(docs_.find("c", "deep")) << "the skipped change stored nothing";
  EXPECT_EQ(engine_->status().last_error,
            "pulled change c/deep (version 2) skipped: its data nests deeper than 64 levels of "
            "arrays and objects (store.max_document_depth)");
  EXPECT_EQ(to_string(engine_->status().connectivity), std::string("online"));
  EXPECT_EQ(MetaStore(*db_).get("pull_cursor"), "3") << "the cursor moved past the change";
  EXPECT_EQ(remote_changes_, 2u);
}

TEST_F(SyncEngineTest, ARedirectOrAMissingEndpointIsRetriedNeverADeadLetter) {
  go_online();
  write("a");
  kick_and_run();
  for (int code : {302, 307, 404, 405}) {
    auto push = http_.take("/v1/push");
    ASSERT_TRUE(push) << code;
    push->done(status(code, "moved", {{"location", "http://portal.test/login"}}));
    run();
    const QueueCounts counts = queue_.counts();
    EXPECT_EQ(counts.failed, 0) << code;
    EXPECT_EQ(counts.pending, 1) << code;
    const SyncStatus s = engine_->status();
    EXPECT_NE(s.last_error.find("push answered HTTP " + std::to_string(code)), std::string::npos)
        << s.last_error;
    EXPECT_TRUE(s.next_retry_ms) << "backs off";
    EXPECT_EQ(to_string(s.connectivity), std::string("degraded"));
    if (code == 302) {
      EXPECT_NE(s.last_error.find("a redirect to http://portal.test/login; syncd does not follow"),
                std::string::npos)
          << s.last_error;
    }
    EXPECT_TRUE(docs_.find("c", "a")->visible()) << "the write stays in the local view";
    clock_.advance_ms(120000);
    engine_->sync_now();
    run();
  }
}

TEST_F(SyncEngineTest, APushAnswerThatDoesNotMatchTheBatchAppliesNothingAndBacksOff) {
  go_online();
  const std::string a = write("a");
  write("b");
  kick_and_run();
  auto push = http_.take("/v1/push");
  ASSERT_TRUE(push);
  push->done(
      status(200, R"({"results":[{"id":")" + a + R"(","status":"applied","version":"3"}]})"));
  run();
  const SyncStatus s = engine_->status();
  EXPECT_NE(s.last_error.find("invalid push answer: no result for 1 of the 2 mutations sent"),
            std::string::npos)
      << s.last_error;
  EXPECT_TRUE(s.next_retry_ms);
  EXPECT_EQ(to_string(s.connectivity), std::string("degraded"));
  EXPECT_EQ(queue_.counts().pending, 2) << "both are sent again, with the same ids";
  EXPECT_FALSE(docs_.find("c", "a")->server_version) << "nothing of the answer was applied";
  EXPECT_FALSE(http_.take("/v1/push")) << "no resend before the retry time";
}

// The event stream's request, left pending by the fake transport: bytes go to on_chunk.
bool stream(FakeTransport& http, const std::string& bytes) {
  for (auto& p : http.pending) {
    if (p.request.url.find("/v1/events") != std::string::npos) return p.request.on_chunk(bytes);
  }
  ADD_FAILURE() << "no event stream open";
  return false;
}

// Storing a push's results can fail (a full disk, the database locked). The mutations
// then stayed inflight, their documents blocked, until syncd restarted. Now they go back
// to pending as soon as that can be written, and are sent again with the same ids (the
// server's dedupe answers them).
TEST_F(SyncEngineTest, MutationsWhoseResultsCouldNotBeStoredAreSentAgainWithoutARestart) {
  go_online();
  const std::string id = write("a");
  kick_and_run();
  auto push = http_.take("/v1/push");
  ASSERT_TRUE(push);
  const std::string first_body = push->request.body;
  {
    // Another connection holds the write lock while the answer is stored.
    Database other(db_->path());
    other.exec("BEGIN IMMEDIATE");
    sqlite3_busy_timeout(db_->handle(), 1);
    int version = 0;
    push->done(applied_all(first_body, version));
    run();
    EXPECT_NE(engine_->status().last_error.find("database is locked"), std::string::npos)
        << engine_->status().last_error;
    EXPECT_EQ(queue_.counts().inflight, 1);
    other.exec("ROLLBACK");
  }
  sqlite3_busy_timeout(db_->handle(), 5000);
  auto again = take_after_ms(settings_.backoff.max_ms, "/v1/push");
  ASSERT_TRUE(again) << "the mutation is stuck inflight";
  EXPECT_NE(again->request.body.find(id), std::string::npos);
  int version = 0;
  again->done(applied_all(again->request.body, version));
  run();
  const QueueCounts counts = queue_.counts();
  EXPECT_EQ(counts.inflight + counts.pending, 0);
}

// A storage failure while resolving a conflict was answered as if there were no such
// conflict (not_found); it is a storage error, and the conflict stays.
TEST_F(SyncEngineTest, AStorageFailureWhileResolvingIsAStorageErrorNotANoSuchConflict) {
  go_online();
  const std::string id = write("a");
  {
    Transaction tx(*db_);
    ASSERT_EQ(queue_.lease(clock_.now_ms(), 10, 1 << 20).size(), 1u);
    ASSERT_TRUE(queue_.mark_conflict(id, "remote changed"));
    tx.commit();
  }
  std::vector<RemoteChange> changed;
  {
    Database other(db_->path());
    other.exec("BEGIN IMMEDIATE");
    sqlite3_busy_timeout(db_->handle(), 1);
    EXPECT_THROW(engine_->resolve_manually(id, "local", changed), SqliteError);
    other.exec("ROLLBACK");
  }
  sqlite3_busy_timeout(db_->handle(), 5000);
  EXPECT_EQ(queue_.find(id)->state, MutationState::conflict);
  EXPECT_EQ(engine_->resolve_manually(id, "local", changed), std::nullopt);
  EXPECT_EQ(engine_->resolve_manually("nope", "local", changed), "no conflict nope");
}

TEST_F(SyncEngineTest, HintsAreCoalescedAndThoseThatFindNothingNewAreFollowedEverMoreSlowly) {
  go_online();
  const std::string empty = R"({"changes":[],"cursor":"0","has_more":false})";
  // A flood of hints while a pull is in flight: one more pull after it, not one each.
  ASSERT_TRUE(stream(http_, "event: changed\ndata: 1\n\n"));
  run();
  auto pull = http_.take("/v1/pull");
  ASSERT_TRUE(pull);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(stream(http_, "event: changed\ndata: x\n\n"));
  run();
  EXPECT_FALSE(http_.take("/v1/pull")) << "one pull in flight";
  pull->done(status(200, empty));  // found nothing new: the first miss
  run();
  EXPECT_FALSE(http_.take("/v1/pull")) << "the hints that waited wait 1 s (backoff.initial_ms)";
  pull = take_after_ms(1000, "/v1/pull");
  ASSERT_TRUE(pull) << "the hints that waited: one pull";
  EXPECT_FALSE(http_.take("/v1/pull"));
  pull->done(status(200, empty));  // the second miss in a row: named, and waits
  run();
  EXPECT_NE(engine_->status().last_error.find("'changed' hints in a row found nothing new"),
            std::string::npos)
      << engine_->status().last_error;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(stream(http_, "event: changed\ndata: x\n\n"));
  run();
  EXPECT_FALSE(http_.take("/v1/pull")) << "not before the second miss's wait (2 s)";
  pull = take_after_ms(2000, "/v1/pull");
  ASSERT_TRUE(pull) << "after the wait";
  // A hint that finds something resets the wait.
  pull->done(status(200, R"({"changes":[{"collection":"c","doc_id":"r","version":"9",)"
                         R"("data":{"x":1},"deleted":false}],"cursor":"9","has_more":false})"));
  run();
  ASSERT_TRUE(stream(http_, "event: changed\ndata: x\n\n"));
  run();
  EXPECT_TRUE(http_.take("/v1/pull")) << "followed at once again";
}

TEST_F(SyncEngineTest, PagingWhoseCursorDoesNotMoveEndsWithAnErrorAndBacksOff) {
  go_online();
  engine_->sync_now();
  run();
  auto pull = http_.take("/v1/pull");
  ASSERT_TRUE(pull);
  EXPECT_NE(pull->request.url.find("cursor=0"), std::string::npos);
  pull->done(status(200, R"({"changes":[],"cursor":"0","has_more":true})"));
  run();
  const SyncStatus s = engine_->status();
  EXPECT_NE(s.last_error.find("has_more is true but the cursor did not move"), std::string::npos)
      << s.last_error;
  EXPECT_TRUE(s.next_retry_ms);
  EXPECT_EQ(to_string(s.connectivity), std::string("degraded"));
  EXPECT_FALSE(http_.take("/v1/pull")) << "no pull before the backoff";
  // Nor may it page on with nothing in the pages.
  pull = take_after_ms(60000, "/v1/pull");
  ASSERT_TRUE(pull);
  pull->done(status(200, R"({"changes":[],"cursor":"5","has_more":true})"));
  run();
  EXPECT_NE(engine_->status().last_error.find("has_more is true but the page has no changes"),
            std::string::npos)
      << engine_->status().last_error;
  EXPECT_FALSE(http_.take("/v1/pull"));
  // A page whose only change was skipped (too deep) is progress: paging goes on.
  pull = take_after_ms(60000, "/v1/pull");
  ASSERT_TRUE(pull);
  pull->done(status(200, R"({"changes":[{"collection":"c","doc_id":"deep","version":"6","data":)"
                         R"({"x":)" +
                             std::string(100, '[') + std::string(100, ']') +
                             R"(}}],"cursor":"6","has_more":true})"));
  run();
  EXPECT_NE(engine_->status().last_error.find("pulled change c/deep (version 6) skipped"),
            std::string::npos)
      << engine_->status().last_error;
  pull = http_.take("/v1/pull");
  ASSERT_TRUE(pull) << "the next page at once";
  EXPECT_NE(pull->request.url.find("cursor=6"), std::string::npos);
}

TEST_F(SyncEngineTest, AnEventStreamOfGarbageIsEndedNamedAndReopenedLater) {
  go_online();
  EXPECT_FALSE(stream(http_, "\x01\x02 binary: garbage\n")) << "syncd ends the stream";
  auto events = http_.take("/v1/events");
  ASSERT_TRUE(events);
  HttpResponse ended;
  ended.error = "stream ended by syncd";
  events->done(ended);
  run();
  EXPECT_NE(engine_->status().last_error.find(
                "event stream: not an event stream: a line with unknown field \"?? binary\"; "
                "reopened in 1000 ms"),
            std::string::npos)
      << engine_->status().last_error;
  EXPECT_FALSE(http_.take("/v1/events")) << "not reopened at once";
}

TEST_F(SyncEngineTest, AnEventStreamFasterThan64KiBASecondIsAFlood) {
  go_online();
  std::string second;
  while (second.size() < (64u << 10)) second += ": keep-alive\n";
  EXPECT_TRUE(stream(http_, second.substr(0, 60 << 10)));
  EXPECT_FALSE(stream(http_, second.substr(0, 8 << 10))) << "past 64 KiB within a second";
  auto events = http_.take("/v1/events");
  ASSERT_TRUE(events);
  events->done(HttpResponse{});
  run();
  EXPECT_NE(engine_->status().last_error.find("more than 65536 bytes in a second (a flood)"),
            std::string::npos)
      << engine_->status().last_error;
}

bool has_header(const HttpRequest& r, const std::string& header) {
  return std::find(r.headers.begin(), r.headers.end(), header) != r.headers.end();
}

class SyncEngineTokenTest : public SyncEngineTest {
 protected:
  // Rebuilds the engine (not started yet) with OAuth settings and a token file.
  void use_tokens(const std::string& configured_refresh_token) {
    remote_settings_.credentials.token = "configured-access";
    remote_settings_.credentials.token_url = "http://sync.test/oauth/token";
    remote_settings_.credentials.refresh_token = configured_refresh_token;
    remote_settings_.credentials.token_file = dir_.file("token.json");
    rebuild();
  }
  std::optional<std::string> meta(const char* key) { return MetaStore(*db_).get(key); }
  // Goes online, writes, answers the push 401 and takes the refresh it causes; `push`
  // is the push that got the 401.
  std::optional<FakeTransport::Pending> refresh_after_401(HttpRequest* push_sent = nullptr) {
    go_online();
    write("a");
    kick_and_run();
    auto push = http_.take("/v1/push");
    EXPECT_TRUE(push);
    if (!push) return std::nullopt;
    if (push_sent) *push_sent = push->request;
    push->done(status(401));
    run();
    return http_.take("/oauth/token");
  }
};

TEST_F(SyncEngineTokenTest, RotatedTokensGoToTheTokenFileNeverToTheDatabase) {
  TokenStore(dir_.file("token.json")).save(Tokens{"access-9", "refresh-9", fingerprint("r0")});
  {
    // What an older syncd left: it moves out of the database (the file is newer).
    Transaction tx(*db_);
    MetaStore(*db_).set("refresh_token", "legacy");
    tx.commit();
  }
  use_tokens("r0");
  EXPECT_FALSE(meta("refresh_token"));
  HttpRequest sent;
  auto refresh = refresh_after_401(&sent);
  EXPECT_TRUE(has_header(sent, "Authorization: Bearer access-9"));
  ASSERT_TRUE(refresh);
  EXPECT_NE(refresh->request.body.find("refresh_token=refresh-9"), std::string::npos)
      << refresh->request.body;
  refresh->done(status(200, R"({"access_token":"access-10","refresh_token":"refresh-10"})"));
  run();
  auto stored = TokenStore(dir_.file("token.json")).load();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->access_token, "access-10");
  EXPECT_EQ(stored->refresh_token, "refresh-10");
  EXPECT_FALSE(meta("refresh_token")) << "never in the database";
  auto push = http_.take("/v1/push");
  ASSERT_TRUE(push) << "resent with the new token";
  EXPECT_TRUE(has_header(push->request, "Authorization: Bearer access-10"));
}

TEST_F(SyncEngineTokenTest, ALegacyRefreshTokenMovesToTheFileAndAChangedConfigWins) {
  {
    Transaction tx(*db_);
    MetaStore(*db_).set("refresh_token", "legacy");
    tx.commit();
  }
  use_tokens("r0");
  EXPECT_FALSE(meta("refresh_token"));
  auto moved = TokenStore(dir_.file("token.json")).load();
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->refresh_token, "legacy");
  // The operator sets another refresh token: the file's, issued under r0, is stale.
  use_tokens("r1");
  HttpRequest sent;
  auto refresh = refresh_after_401(&sent);
  EXPECT_TRUE(has_header(sent, "Authorization: Bearer configured-access"));
  ASSERT_TRUE(refresh);
  EXPECT_NE(refresh->request.body.find("refresh_token=r1"), std::string::npos)
      << refresh->request.body;
}

TEST_F(SyncEngineTokenTest, ATokenThatCouldEndItsHeaderIsRefused) {
  use_tokens("r0");
  auto refresh = refresh_after_401();
  ASSERT_TRUE(refresh);
  refresh->done(status(200, R"({"access_token":"x\r\nX-Injected: 1"})"));
  run();
  EXPECT_EQ(engine_->status().auth, "failed");
  EXPECT_NE(engine_->status().last_error.find("access_token is not 1 to 16384 bytes of visible"),
            std::string::npos)
      << engine_->status().last_error;
  EXPECT_FALSE(TokenStore(dir_.file("token.json")).load()) << "nothing stored";
}

// Review (branch review2): a collection that starts pulling while the pull filter stays
// empty (the default direction pulls) has history before the stored cursor, which
// passed over its changes while it did not pull: like a wider filter, it must pull from
// the beginning. pull_cursor() compares only the filter, which is empty both times.
TEST_F(SyncEngineTest, ReviewACollectionThatStartsPullingUnderTheEmptyFilterPullsFromTheStart) {
  settings_.directions = Directions(Direction::both, {{"c", Direction::push}});
  rebuild();
  start_and_answer_the_probe();
  auto pull = http_.take("/v1/pull");
  ASSERT_TRUE(pull);
  EXPECT_NE(pull->request.url.find("cursor=0"), std::string::npos) << pull->request.url;
  pull->done(status(200, R"({"changes":[)"
                         R"({"collection":"c","doc_id":"x","version":"3","data":{"v":1}}],)"
                         R"("cursor":"7","has_more":false})"));
  run();
  EXPECT_FALSE(docs_.find("c", "x")) << "a push-only collection passes over pulled changes";

  engine_->set_directions(Directions(Direction::both, {}));  // SIGHUP: c pulls now
  engine_->sync_now();
  run();
  pull = http_.take("/v1/pull");
  ASSERT_TRUE(pull);
  EXPECT_NE(pull->request.url.find("cursor=0"), std::string::npos)
      << "c/x (version 3) lies before cursor 7 and would never be pulled: " << pull->request.url;
}

// Review: docs/ERRORS.md 2.2 says a probe that got no answer shows libcurl's text alone
// (no prefix), as eb094e2 did; classify_v1 now prefixes "health check failed: ".
TEST_F(SyncEngineTest, ReviewAProbeWithNoAnswerShowsTheTransportTextAloneAsErrorsMdSays) {
  engine_->start();
  run();
  auto probe = http_.take("/v1/health");
  ASSERT_TRUE(probe);
  HttpResponse r;
  r.error = "Could not resolve host: sync.test";
  r.connect_failed = true;
  probe->done(r);
  run();
  EXPECT_EQ(engine_->status().last_error, "Could not resolve host: sync.test");
}

// Review: docs/ERRORS.md 2.2 (and eb094e2) give a pull's 401/403 as "pull answered HTTP S:
// BODY"; the v1 classifier now answers "(check auth.token)" and drops the server's body.
TEST_F(SyncEngineTest, ReviewAPull403KeepsTheServersBodyAsErrorsMdSays) {
  go_online();
  engine_->sync_now();
  run();
  auto pull = http_.take("/v1/pull");
  ASSERT_TRUE(pull);
  pull->done(status(403, "account suspended"));
  run();
  EXPECT_EQ(engine_->status().last_error, "pull answered HTTP 403: account suspended");
  EXPECT_STREQ(engine_->status().auth.c_str(), "failed");
}

// A 401 on the change-hint stream refreshes the token like one on a push or a pull, and
// the stream opens again with the new token at once (it waited 60 s as "unsupported").
TEST_F(SyncEngineTokenTest, AnEventStreamRefusedWith401RefreshesTheTokenAndReopens) {
  use_tokens("r0");
  go_online();
  auto events = http_.take("/v1/events");
  ASSERT_TRUE(events);
  events->done(status(401));
  run();
  auto refresh = http_.take("/oauth/token");
  ASSERT_TRUE(refresh) << "the stream's 401 starts a refresh";
  refresh->done(status(200, R"({"access_token":"fresh"})"));
  run();
  kick_and_run();
  auto again = http_.take("/v1/events");
  ASSERT_TRUE(again) << "reopened at once with the new token";
  EXPECT_TRUE(has_header(again->request, "Authorization: Bearer fresh"));
}

}  // namespace
}  // namespace syncd

namespace syncd {
namespace {

// CouchDB revisions are not ordered (any revision other than ours is the server's
// winner), so a pull page read before a push was acknowledged would bring that
// document's old revision back: with such a protocol no push starts while a pull is in
// flight.
class SyncEngineCouchDbTest : public SyncEngineTest {
 protected:
  SyncEngineCouchDbTest() {
    remote_settings_.endpoint = {"http://sync.test/db", "couchdb"};
    rebuild();
  }
  // Online, its first pull and the change feed sent.
  void start_and_answer_the_health_check() {
    engine_->start();
    run();
    auto probe = http_.take("/db");
    ASSERT_TRUE(probe);
    probe->done(status(200, R"({"db_name":"db"})"));
    run();
  }
  // A pull, not the continuous feed of change hints.
  static constexpr const char* kPull = "/db/_changes?style=main_only";
  static constexpr const char* kEmptyChanges = R"({"results":[],"last_seq":"0","pending":0})";
};

TEST_F(SyncEngineCouchDbTest, NoPushStartsWhileAPullIsInFlight) {
  ASSERT_NO_FATAL_FAILURE(start_and_answer_the_health_check());
  // The first pull, then the one the acknowledgement asks for: a write while either is
  // out waits for its answer.
  for (int round = 0; round < 2; ++round) {
    auto pull = http_.take(kPull);
    ASSERT_TRUE(pull) << "round " << round;
    write("a");
    kick_and_run();
    EXPECT_FALSE(http_.take("/db/_bulk_docs")) << "a push started during a pull, round " << round;
    pull->done(status(200, kEmptyChanges));
    run();
    kick_and_run();
    auto push = http_.take("/db/_bulk_docs");
    ASSERT_TRUE(push) << "the push follows the pull's answer, round " << round;
    push->done(status(201, "[]"));
    run();
  }
}

TEST_F(SyncEngineCouchDbTest, AnotherWritersBulkWriteOnTheFeedIsNewsNotAFlood) {
  ASSERT_NO_FATAL_FAILURE(start_and_answer_the_health_check());
  HttpRequest* feed = nullptr;
  for (auto& p : http_.pending) {
    if (p.request.url.find("feed=continuous") != std::string::npos) feed = &p.request;
  }
  ASSERT_TRUE(feed != nullptr && feed->on_chunk);
  // 8,000 changes of about 130 bytes in one second: 1 MiB, as a bulk write of 8,000
  // documents by another writer comes.
  std::string lines;
  for (int i = 0; i < 8000; ++i) {
    lines += R"({"seq":)" + std::to_string(i) + R"(,"id":"notes/n)" + std::to_string(i) +
             R"(","changes":[{"rev":"1-0190d6c42f8e7a1b9c3d4e5f60718291"}]})" + "\n";
  }
  EXPECT_TRUE(feed->on_chunk(lines)) << lines.size() << " bytes were taken for a flood";
  // A server sending as fast as it can is still one.
  EXPECT_FALSE(feed->on_chunk(std::string(2 << 20, '\n'))) << "2 MiB more within the second";
}

}  // namespace
}  // namespace syncd
