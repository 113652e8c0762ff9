#include "queue/journaled_writes.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "queue/write_record.h"
#include "tests/queue/local_store_fixture.h"

namespace syncd {
namespace {

class JournaledWritesTest : public LocalStoreTest {
 protected:
  JournaledWritesTest() : LocalStoreTest(1 << 20) {}

  JournaledWritesOptions options(size_t preallocate = 1 << 20) {
    JournaledWritesOptions o;
    o.journal_path = dir_.file("journal");
    o.preallocate_bytes = preallocate;
    return o;
  }
  std::unique_ptr<JournaledWrites> open(size_t preallocate = 1 << 20) {
    return std::make_unique<JournaledWrites>(*db_, docs_, queue_, writes_, options(preallocate));
  }

  static LocalWriteResult stage(JournaledWrites& j, MutationOp op, const std::string& id,
                                const char* json = nullptr) {
    return apply_json(j, op, id, json);
  }
  // What the documents table holds, read without settling.
  std::optional<std::string> in_table(const std::string& id) {
    Database::SkipSettle as_it_is(*db_);
    auto doc = docs_.find("notes", id);
    return doc ? doc->local_data : std::nullopt;
  }
  int64_t mutations_in_table() {
    Database::SkipSettle as_it_is(*db_);
    return db_->query_int("SELECT COUNT(*) FROM mutations");
  }
};

TEST_F(JournaledWritesTest, AWriteIsReadableAtOnceAndReachesTheTablesWhenSettled) {
  auto j = open();
  auto put = stage(*j, MutationOp::put, "a", R"({"t":1})");
  auto patch = stage(*j, MutationOp::patch, "a", R"({"u":2})");  // builds on the staged put
  EXPECT_EQ(*patch.local_data, R"({"t":1,"u":2})");
  j->commit_turn();
  EXPECT_EQ(*j->find("notes", "a")->local_data, R"({"t":1,"u":2})");
  EXPECT_TRUE(j->find("notes", "a")->pending);
  EXPECT_FALSE(in_table("a"));
  EXPECT_EQ(j->counts().pending, 2);
  EXPECT_EQ(j->oldest_pending_created_ms(), clock_.now_ms());

  j->settle();
  EXPECT_EQ(*in_table("a"), R"({"t":1,"u":2})");
  EXPECT_EQ(mutations_in_table(), 2);
  EXPECT_EQ(j->unapplied_count(), 0);
  EXPECT_EQ(j->counts().pending, 2);  // counted once
  EXPECT_EQ(queue_.find(put.mutation_id)->op, MutationOp::put);
  EXPECT_EQ(*queue_.find(patch.mutation_id)->payload, R"({"u":2})");
}

TEST_F(JournaledWritesTest, AnyOtherUseOfTheConnectionSettlesFirst) {
  auto j = open();
  stage(*j, MutationOp::put, "b", R"({"x":true})");  // staged, not even committed
  // A list (as the list method, the sync engine or syncctl would do) sees it.
  DocumentPage page = docs_.list("notes", "", std::nullopt, 10);
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].id, "b");
  EXPECT_EQ(j->unapplied_count(), 0);
  EXPECT_EQ(Journal::read(dir_.file("journal.0")).size(), 1u);  // made durable on the way
}

TEST_F(JournaledWritesTest, AnAbortedTurnLeavesNoTrace) {
  auto j = open();
  stage(*j, MutationOp::put, "c", R"({"v":1})");
  j->commit_turn();
  stage(*j, MutationOp::patch, "c", R"({"v":2})");
  stage(*j, MutationOp::put, "d", R"({"v":3})");
  j->abort_turn();
  EXPECT_EQ(*j->find("notes", "c")->local_data, R"({"v":1})");
  EXPECT_FALSE(j->find("notes", "d"));
  EXPECT_EQ(j->unapplied_count(), 1);
  stage(*j, MutationOp::put, "e", R"({"v":4})");
  j->commit_turn();
  auto records = Journal::read(dir_.file("journal.0"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].lsn, records[0].lsn + 1);  // the aborted lsns were given out again
}

TEST_F(JournaledWritesTest, RejectedWritesAreRejectedAsBefore) {
  auto j = open();
  EXPECT_THROW(stage(*j, MutationOp::patch, "nothing", R"({"a":1})"), WriteRejected);
  EXPECT_THROW(stage(*j, MutationOp::del, "nothing"), WriteRejected);
  stage(*j, MutationOp::put, "f", R"({"a":1})");
  stage(*j, MutationOp::del, "f");
  EXPECT_THROW(stage(*j, MutationOp::patch, "f", R"({"a":2})"), WriteRejected);
  EXPECT_FALSE(j->find("notes", "f")->visible());
}

TEST_F(JournaledWritesTest, ACrashLeavesTheJournalAndTheNextStartAppliesItOnce) {
  std::vector<std::string> ids;
  {
    auto j = open();
    for (int i = 0; i < 5; ++i) {
      ids.push_back(stage(*j, MutationOp::put, "k" + std::to_string(i), R"({"n":1})").mutation_id);
    }
    j->commit_turn();
    stage(*j, MutationOp::put, "unacknowledged", R"({"n":2})");  // never synced
    // Destroyed without settling: as if the process died here.
  }
  EXPECT_EQ(mutations_in_table(), 0);
  {
    auto j = open();
    EXPECT_EQ(j->recovered(), 5);
    EXPECT_EQ(mutations_in_table(), 5);
    for (size_t i = 0; i < ids.size(); ++i) {
      EXPECT_EQ(*in_table("k" + std::to_string(i)), R"({"n":1})");
      EXPECT_EQ(queue_.find(ids[i])->state, MutationState::pending);
    }
    EXPECT_FALSE(in_table("unacknowledged"));
    stage(*j, MutationOp::patch, "k0", R"({"m":3})");  // new lsns after the recovered ones
    j->commit_turn();
  }
  auto j = open();
  EXPECT_EQ(j->recovered(), 1);  // only the patch: the first five were applied already
  EXPECT_EQ(mutations_in_table(), 6);
  EXPECT_EQ(*in_table("k0"), R"({"n":1,"m":3})");
}

TEST_F(JournaledWritesTest, TheJournalIsReusedFromTheStartOnceEverythingIsApplied) {
  auto j = open(4096);
  for (int i = 0; i < 200; ++i) {
    stage(*j, MutationOp::put, "r" + std::to_string(i), R"({"pad":"0123456789012345678901"})");
    j->commit_turn();
  }
  for (const char* file : {"journal.0", "journal.1"}) {
    struct stat st {};
    ASSERT_EQ(::stat(dir_.file(file).c_str(), &st), 0);
    // Reused instead of growing: a sync that crosses the end writes one block past it.
    EXPECT_LE(st.st_size, 4096 + Journal::kBlockBytes) << file;
  }
  EXPECT_EQ(*in_table("r0"), R"({"pad":"0123456789012345678901"})");  // applied to allow it
  j.reset();
  auto again = open(4096);
  EXPECT_EQ(mutations_in_table(), 200);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(in_table("r" + std::to_string(i)));
}

TEST_F(JournaledWritesTest, AWriterFarAheadOfTheApplierAppliesSlicesItself) {
  JournaledWritesOptions o = options();
  o.max_unapplied = 16;
  o.urgent_unapplied = 8;
  o.max_slice = 4;
  auto j = std::make_unique<JournaledWrites>(*db_, docs_, queue_, writes_, o);
  int64_t most = 0;
  for (int i = 0; i < 100; ++i) {
    stage(*j, MutationOp::put, "m" + std::to_string(i), R"({"i":1})");
    j->commit_turn();
    most = std::max(most, j->unapplied_count());
  }
  // Bounded without any applier thread running: past max_unapplied the IPC server paces
  // writers; past twice that the loop applies slices itself.
  EXPECT_LE(most, 2 * 16 + 1);
  EXPECT_GT(j->backlog().loop_slices, 0u);
  EXPECT_EQ(j->backlog().applier_raised, 1u);  // raised once, never lowered: no thread ran
  EXPECT_EQ(j->backlog().unapplied, static_cast<uint64_t>(j->unapplied_count()));
  EXPECT_GE(mutations_in_table(), 100 - 2 * 16 - 1);
  j->settle();
  EXPECT_EQ(mutations_in_table(), 100);
  EXPECT_EQ(j->backlog().unapplied, 0u);
}

TEST_F(JournaledWritesTest, AHoleInTheJournalIsReportedAndTheRestApplied) {
  {
    auto j = open();  // creates the files; nothing written
  }
  auto record = [&](const std::string& id) {
    PreparedWrite w;
    w.mutation.id = "0190b4a0-0000-7000-8000-00000000000" + id;
    w.mutation.collection = "notes";
    w.mutation.doc_id = id;
    w.mutation.payload = R"({"v":1})";
    w.local_data = R"({"v":1})";
    return encode_write_record(w);
  };
  {
    Journal first(dir_.file("journal.0"), 0);
    for (uint64_t lsn : {1, 2, 3}) first.append(lsn, record(std::to_string(lsn)));
    first.sync();
    Journal second(dir_.file("journal.1"), 0);
    for (uint64_t lsn : {6, 7}) second.append(lsn, record(std::to_string(lsn)));
    second.sync();
  }
  auto j = open();
  EXPECT_EQ(j->recovered(), 5);
  EXPECT_NE(j->recovery_warning().find("acknowledged writes with lsns 4 to 5 are lost"),
            std::string::npos)
      << j->recovery_warning();
  EXPECT_EQ(j->lost_at_start(), 2u);
  EXPECT_TRUE(in_table("7"));
  stage(*j, MutationOp::put, "after", R"({"v":2})");
  j->commit_turn();
  EXPECT_EQ(Journal::read(dir_.file("journal.0")).front().lsn, 8u);  // numbering goes on
}

// A run that crashed with acknowledged writes in the journal only: `applied` writes in
// the tables, then `unapplied` more, each turn synced (acknowledged), never settled.
class JournalDamageTest : public JournaledWritesTest {
 protected:
  void crash_with(int applied, int unapplied) {
    auto j = open();
    for (int i = 0; i < applied + unapplied; ++i) {
      if (i == applied) j->settle();
      stage(*j, MutationOp::put, "w" + std::to_string(i),
            R"({"pad":"0123456789012345678901234567890123456789"})");
      if (i % 10 == 9 || i + 1 == applied) j->commit_turn();  // turns of ten, as under load
    }
    j->commit_turn();
    // Destroyed without settling: as if the process died here.
  }
  void overwrite(const std::string& file, uint64_t offset, size_t bytes) {
    std::fstream f(dir_.file(file), std::ios::in | std::ios::out | std::ios::binary);
    std::string garbage(bytes, 'X');
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(garbage.data(), static_cast<std::streamsize>(bytes));
  }
  int in_tables(int from, int to) {
    int n = 0;
    for (int i = from; i < to; ++i) n += in_table("w" + std::to_string(i)) ? 1 : 0;
    return n;
  }
};

TEST_F(JournalDamageTest, ADamagedBlockLosesOnlyItsRecordsAndNamesThem) {
  crash_with(500, 3000);
  ASSERT_EQ(mutations_in_table(), 500);
  overwrite("journal.0", 40 * Journal::kBlockBytes, Journal::kBlockBytes);
  auto j = open();
  const uint64_t lost = j->lost_at_start();
  EXPECT_GT(lost, 0u);
  EXPECT_LT(lost, 100u) << "a 4 KiB block holds a few dozen of these records";
  EXPECT_EQ(j->recovered(), static_cast<int64_t>(3000 - lost));
  EXPECT_EQ(in_tables(500, 3500), static_cast<int>(3000 - lost));
  EXPECT_TRUE(in_table("w3499")) << "the records after the damage are recovered";
  EXPECT_NE(j->recovery_warning().find("bytes that do not check at offset"), std::string::npos)
      << j->recovery_warning();
  EXPECT_NE(j->recovery_warning().find("journal.0.damaged-"), std::string::npos)
      << j->recovery_warning();
}

TEST_F(JournalDamageTest, ATruncatedJournalNamesTheExactRangeFromTheMark) {
  crash_with(500, 300);
  ASSERT_EQ(::truncate(dir_.file("journal.0").c_str(), 0), 0);
  auto j = open();
  EXPECT_EQ(j->lost_at_start(), 300u);
  EXPECT_NE(j->recovery_warning().find("acknowledged writes with lsns 501 to 800 are lost"),
            std::string::npos)
      << j->recovery_warning();
  EXPECT_NE(j->recovery_warning().find("journal.0 is empty"), std::string::npos)
      << j->recovery_warning();
  // Numbering goes on after the lost range, and the next start finds nothing wrong.
  stage(*j, MutationOp::put, "after", R"({"v":1})");
  j->commit_turn();
  EXPECT_EQ(Journal::read(dir_.file("journal.0")).front().lsn, 801u);
  j.reset();
  EXPECT_EQ(open()->recovery_warning(), "");
}

TEST_F(JournalDamageTest, DeletedJournalFilesNameTheExactRangeFromTheMark) {
  crash_with(50, 48);
  ASSERT_EQ(::unlink(dir_.file("journal.0").c_str()), 0);
  ASSERT_EQ(::unlink(dir_.file("journal.1").c_str()), 0);
  auto j = open();
  EXPECT_EQ(j->lost_at_start(), 48u);
  EXPECT_NE(j->recovery_warning().find("lsns 51 to 98 are lost"), std::string::npos)
      << j->recovery_warning();
  EXPECT_NE(j->recovery_warning().find("journal.0 is missing"), std::string::npos)
      << j->recovery_warning();
}

TEST_F(JournalDamageTest, WithTheMarkGoneTooAMissingJournalAfterACrashIsStillNamed) {
  crash_with(50, 48);
  for (const char* f : {"journal.0", "journal.1", "journal.mark"}) {
    ASSERT_EQ(::unlink(dir_.file(f).c_str()), 0) << f;
  }
  auto j = open();
  EXPECT_NE(j->recovery_warning().find("acknowledged writes after lsn 50 may be lost"),
            std::string::npos)
      << j->recovery_warning();
}

TEST_F(JournalDamageTest, AfterACleanStopMissingJournalFilesLoseNothingAndSayNothing) {
  {
    auto j = open();
    for (int i = 0; i < 20; ++i) {
      stage(*j, MutationOp::put, "w" + std::to_string(i), R"({"v":1})");
      j->commit_turn();
    }
    j->stop();
  }
  for (const char* f : {"journal.0", "journal.1", "journal.mark"}) {
    ASSERT_EQ(::unlink(dir_.file(f).c_str()), 0) << f;
  }
  auto j = open();
  EXPECT_EQ(j->recovery_warning(), "");
  EXPECT_EQ(in_tables(0, 20), 20);
}

TEST_F(JournaledWritesTest, ARecordThatChecksButIsNoWriteIsRefusedNamingItsFile) {
  {
    auto j = open();  // creates the files; nothing written
  }
  {
    Journal second(dir_.file("journal.1"), 0);
    second.append(1, "not a write record");
    second.sync();
  }
  try {
    open();
    FAIL() << "an unknown record was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("journal.1: record 1 passes its checksum"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(JournaledWritesTest, FilesAreReusedWhileTheApplierRuns) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    auto j = open(4096);  // a few dozen records per file: many switches
    j->start(&loop, db_->path(), [](const std::string&) {});
    for (int i = 0; i < 300; ++i) {
      stage(*j, MutationOp::put, "s" + std::to_string(i), R"({"pad":"0123456789012345678901"})");
      j->commit_turn();
      uv_run(&loop, UV_RUN_NOWAIT);
    }
    j->stop();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  EXPECT_EQ(uv_loop_close(&loop), 0);
  for (const char* file : {"journal.0", "journal.1"}) {
    struct stat st {};
    ASSERT_EQ(::stat(dir_.file(file).c_str(), &st), 0);
    EXPECT_LE(st.st_size, 4096 + Journal::kBlockBytes) << file;  // reused, not grown
  }
  auto again = open(4096);
  EXPECT_EQ(again->recovered(), 0);
  EXPECT_EQ(mutations_in_table(), 300);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(in_table("s" + std::to_string(i))) << i;
}

TEST_F(JournaledWritesTest, WritesReachTheQueueInOrderWhenTheLoopAndTheApplierShareTheWork) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  JournaledWritesOptions o = options();
  o.max_unapplied = 8;  // the loop applies slices often, while the applier runs
  o.urgent_unapplied = 4;
  o.max_batch = 3;
  o.max_slice = 2;
  o.gather = std::chrono::milliseconds(0);
  auto j = std::make_unique<JournaledWrites>(*db_, docs_, queue_, writes_, o);
  j->start(&loop, db_->path(), [](const std::string&) {});
  for (int i = 0; i < 600; ++i) {
    const std::string body = R"({"n":)" + std::to_string(i) + "}";
    stage(*j, MutationOp::put, "d" + std::to_string(i % 3), body.c_str());
    j->commit_turn();
    if (i % 7 == 0) uv_run(&loop, UV_RUN_NOWAIT);
  }
  j->stop();
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
  // The queue's order (seq) is the order of the writes, and each document shows its last.
  Statement in_order(*db_, "SELECT payload FROM mutations ORDER BY seq");
  int expected = 0;
  while (in_order.step()) {
    ASSERT_EQ(in_order.column_text(0), R"({"n":)" + std::to_string(expected) + "}");
    ++expected;
  }
  EXPECT_EQ(expected, 600);
  EXPECT_EQ(*in_table("d0"), R"({"n":597})");
  EXPECT_EQ(*in_table("d2"), R"({"n":599})");
}

TEST_F(JournaledWritesTest, ADamagedAppliedLsnIsRefusedByName) {
  { open(); }
  MetaStore(*db_).set("journal_applied_lsn", "12x");
  try {
    open();
    FAIL() << "opened on a damaged applied lsn";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("journal_applied_lsn is '12x', not a number"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(JournaledWritesTest, TheApplierThreadCatchesUpOnItsOwn) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto j = open();
  std::vector<std::string> errors;
  j->start(&loop, db_->path(), [&](const std::string& e) { errors.push_back(e); });
  for (int i = 0; i < 50; ++i) {
    stage(*j, MutationOp::put, "t" + std::to_string(i), R"({"i":1})");
    j->commit_turn();
  }
  // The thread's progress handle does not keep a loop alive; the daemon's other handles
  // do, this one stands in for them.
  uv_idle_t keep_alive;
  uv_idle_init(&loop, &keep_alive);
  uv_idle_start(&keep_alive, [](uv_idle_t*) {});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (j->unapplied_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    uv_run(&loop, UV_RUN_NOWAIT);
    std::this_thread::yield();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&keep_alive), nullptr);
  EXPECT_EQ(j->unapplied_count(), 0);  // told by the thread, through the loop
  EXPECT_EQ(mutations_in_table(), 50);
  EXPECT_EQ(*in_table("t49"), R"({"i":1})");
  EXPECT_TRUE(errors.empty());
  stage(*j, MutationOp::put, "last", R"({"i":2})");
  j->commit_turn();
  j->stop();  // settles: nothing is left behind
  EXPECT_EQ(*in_table("last"), R"({"i":2})");
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

// Work that can wait (the sync engine's) runs when the loop's settle costs little: at
// once with nothing behind, else once the applier has done the backlog, never while a
// large one would fall on the loop.
class WorkThatCanWaitTest : public JournaledWritesTest {
 protected:
  WorkThatCanWaitTest() {
    uv_loop_init(&loop_);
    JournaledWritesOptions o = options();
    o.gather = std::chrono::milliseconds(10000);  // only a loop that waits hurries it
    o.max_unapplied = 100000;                     // no slices from the writes' side
    o.urgent_unapplied = 100000;
    j_ = std::make_unique<JournaledWrites>(*db_, docs_, queue_, writes_, o);
    j_->start(&loop_, db_->path(), [](const std::string&) {});
    uv_idle_init(&loop_, &keep_alive_);  // stands in for the daemon's other handles
    uv_idle_start(&keep_alive_, [](uv_idle_t*) {});
  }
  ~WorkThatCanWaitTest() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&keep_alive_), nullptr);
    if (j_) j_->stop();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  void write(int n) {
    for (int i = 0; i < n; ++i) {
      stage(*j_, MutationOp::put, "w" + std::to_string(written_++), R"({"i":1})");
    }
    j_->commit_turn();
  }
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop_, UV_RUN_NOWAIT);
      std::this_thread::yield();
    }
    return done();
  }

  uv_loop_t loop_{};
  uv_idle_t keep_alive_{};
  std::unique_ptr<JournaledWrites> j_;
  int written_ = 0;
};

TEST_F(WorkThatCanWaitTest, RunsAtOnceWhenLittleIsBehind) {
  write(10);
  bool ran = false;
  j_->when_cheap([&] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST_F(WorkThatCanWaitTest, WaitsForTheApplierWhenMuchIsBehindThenFindsLittleLeft) {
  write(2000);
  int64_t unapplied_when_run = -1;
  int64_t rows_when_run = -1;
  j_->when_cheap([&] {
    unapplied_when_run = j_->unapplied_count();
    rows_when_run = mutations_in_table();
  });
  EXPECT_EQ(unapplied_when_run, -1) << "2,000 writes behind: it waits";
  ASSERT_TRUE(run_until([&] { return unapplied_when_run >= 0; }));
  // The applier (hurried past its 10 s gathering) did the work; the loop's part is small.
  EXPECT_LE(unapplied_when_run, 64);
  EXPECT_GE(rows_when_run, 2000 - 64);
}

TEST_F(WorkThatCanWaitTest, RunsInTheOrderAskedAlsoWhenAskedFromWork) {
  write(2000);
  std::vector<int> order;
  j_->when_cheap([&] {
    order.push_back(1);
    j_->when_cheap([&] { order.push_back(3); });
  });
  j_->when_cheap([&] { order.push_back(2); });
  ASSERT_TRUE(run_until([&] { return order.size() == 3; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(WorkThatCanWaitTest, WorkStillWaitingAtStopRunsOnSettledTables) {
  write(2000);
  int64_t rows_when_run = -1;
  j_->when_cheap([&] {
    Database::SkipSettle as_it_is(*db_);
    rows_when_run = mutations_in_table();
  });
  j_->stop();
  j_.reset();
  EXPECT_EQ(rows_when_run, 2000);
}

// Review (branch review2): a `local` collection's write is never queued, yet until the
// journal applier has moved it into the tables (at once in the daemon, or not at all
// while the disk is full) status counts it as pending and its age as the oldest pending
// one: counts() adds every unapplied journal record, local or not.
TEST_F(JournaledWritesTest, ReviewAnUnappliedLocalOnlyWriteIsNotCountedAsPending) {
  writes_.set_directions(Directions(Direction::both, {{"notes", Direction::local}}));
  auto j = open();
  stage(*j, MutationOp::put, "a", R"({"t":1})");
  j->commit_turn();
  EXPECT_FALSE(j->find("notes", "a")->pending);
  EXPECT_EQ(j->counts().pending, 0) << "nothing waits to sync";
  EXPECT_FALSE(j->oldest_pending_created_ms());
  j->settle();
  EXPECT_EQ(j->counts().pending, 0);
}

}  // namespace
}  // namespace syncd
