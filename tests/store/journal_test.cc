#include "store/journal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "store/sqlite.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

std::vector<std::pair<uint64_t, std::string>> contents(const std::string& path) {
  std::vector<std::pair<uint64_t, std::string>> out;
  for (auto& r : Journal::read(path)) out.emplace_back(r.lsn, r.payload);
  return out;
}

void flip_byte(const std::string& path, off_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(at);
  f.write(&c, 1);
}

TEST(Journal, SyncedRecordsReadBackInOrderAndUnsyncedOnesDoNot) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  EXPECT_TRUE(Journal::read(path).empty());  // no file yet
  {
    Journal journal(path, 64 << 10);
    EXPECT_TRUE(journal.preallocated());
    EXPECT_TRUE(Journal::read(path).empty());  // zeros are no record
    journal.append(7, "first");
    journal.append(8, "second");
    journal.sync();
    journal.append(9, "never synced");
    journal.discard();
    journal.append(9, "third");
    journal.sync();
    journal.append(10, "left in memory");
  }
  using Records = std::vector<std::pair<uint64_t, std::string>>;
  EXPECT_EQ(contents(path), (Records{{7, "first"}, {8, "second"}, {9, "third"}}));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 64 << 10);  // written inside the zeros, not appended
}

TEST(Journal, ATornLastRecordEndsTheJournalAndADamagedOneIsSteppedOver) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  {
    Journal journal(path, 0);  // no preallocation: the file ends where the records do
    EXPECT_FALSE(journal.preallocated());
    journal.append(1, "one");
    journal.append(2, "two");
    journal.append(3, "three");
    journal.sync();
  }
  const off_t third = 2 * static_cast<off_t>(Journal::kHeaderBytes) + 3 + 3;
  ASSERT_EQ(::truncate(path.c_str(), third + 10), 0);  // the last record torn
  EXPECT_EQ(contents(path).size(), 2u);
  EXPECT_TRUE(Journal::scan(path).damage.empty()) << "a torn end is the end, not damage";
  flip_byte(path, static_cast<off_t>(Journal::kHeaderBytes) + 1);  // a payload byte of "one"
  JournalScan scan = Journal::scan(path);
  using Records = std::vector<std::pair<uint64_t, std::string>>;
  EXPECT_EQ(contents(path), (Records{{2, "two"}}));
  ASSERT_EQ(scan.damage.size(), 1u);
  EXPECT_EQ(scan.damage[0].offset, 0u);
  EXPECT_EQ(scan.damage[0].bytes, Journal::kHeaderBytes + 3);
  EXPECT_EQ(scan.damage[0].lsn_before, 0u);
  EXPECT_EQ(scan.damage[0].lsn_after, 2u);
}

TEST(Journal, AReaderGoesPastADamagedBlockToTheRecordsAfterIt) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  std::vector<uint64_t> offsets;  // where each record starts
  {
    Journal journal(path, 256 << 10);
    uint64_t at = 0;
    for (uint64_t lsn = 1; lsn <= 100; ++lsn) {
      std::string payload(300 + lsn * 7, static_cast<char>('a' + lsn % 26));
      offsets.push_back(at);
      at += Journal::kHeaderBytes + payload.size();
      journal.append(lsn, payload);
      if (lsn % 10 == 0) journal.sync();
    }
  }
  // One 4 KiB block in the middle overwritten with garbage.
  const uint64_t block = 5 * Journal::kBlockBytes;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(block));
    std::string garbage(Journal::kBlockBytes, '\0');
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 7919 % 251);
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  // The records it touched: those that end after it starts and start before it ends.
  std::vector<uint64_t> touched;
  for (size_t i = 0; i < offsets.size(); ++i) {
    const uint64_t end = i + 1 < offsets.size() ? offsets[i + 1] : UINT64_MAX;
    if (end > block && offsets[i] < block + Journal::kBlockBytes) touched.push_back(i + 1);
  }
  ASSERT_GE(touched.size(), 2u);
  JournalScan scan = Journal::scan(path);
  EXPECT_EQ(scan.records.size(), 100u - touched.size());
  EXPECT_EQ(scan.records.back().lsn, 100u);
  ASSERT_EQ(scan.damage.size(), 1u);
  EXPECT_EQ(scan.damage[0].lsn_before, touched.front() - 1);
  EXPECT_EQ(scan.damage[0].lsn_after, touched.back() + 1);
  EXPECT_EQ(scan.damage[0].offset, offsets[touched.front() - 1]);
  EXPECT_EQ(scan.damage[0].offset + scan.damage[0].bytes, offsets[touched.back()]);
}

TEST(Journal, StaleRecordsAtOrBelowTheAppliedLsnAreNeverTakenForRecordsPastDamage) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  const std::string filler(1000, 'f');
  Journal journal(path, 64 << 10);
  for (uint64_t lsn = 1; lsn <= 40; ++lsn) journal.append(lsn, filler);  // an older generation
  journal.sync();
  journal.rewind();
  for (uint64_t lsn = 41; lsn <= 44; ++lsn) journal.append(lsn, "new");
  journal.sync();
  flip_byte(path, static_cast<off_t>(Journal::kHeaderBytes) + 1);  // lsn 41
  // With the tables at 40, the old generation behind lsn 44 is stale: the end.
  JournalScan scan = Journal::scan(path, 40);
  ASSERT_EQ(scan.records.size(), 3u);
  EXPECT_EQ(scan.records.front().lsn, 42u);
  EXPECT_EQ(scan.records.back().lsn, 44u);
  EXPECT_EQ(scan.damage.size(), 1u);
}

TEST(Journal, PastDamageOnlyLsnsWithinTheWindowCount) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  {
    Journal journal(path, 64 << 10);
    journal.append(1, "near");
    // A record that checks but whose lsn no journal of ours could reach: what damage
    // (or a hostile file) may hold at any offset.
    journal.append(uint64_t{1} << 40, "far");
    journal.append(2, "near");
    journal.append(3, "near");
    journal.sync();
  }
  flip_byte(path, static_cast<off_t>(Journal::kHeaderBytes) + 1);  // lsn 1
  // Without a window the far lsn passes for the records after the damage, and hides them.
  JournalScan unbounded = Journal::scan(path);
  ASSERT_EQ(unbounded.records.size(), 1u);
  EXPECT_EQ(unbounded.records.back().lsn, uint64_t{1} << 40);
  JournalScan scan = Journal::scan(path, 0, 1000);
  ASSERT_EQ(scan.records.size(), 2u);
  EXPECT_EQ(scan.records.front().lsn, 2u);
  EXPECT_EQ(scan.records.back().lsn, 3u);
}

TEST(Journal, PastDamageAfterARecordOnlyLsnsTheDamagedBytesCouldHaveHeldCount) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  uint64_t damaged_at = 0;
  {
    Journal journal(path, 64 << 10);
    journal.append(1, "near");
    journal.append(2, "near");
    damaged_at = 2 * (Journal::kHeaderBytes + 4);
    journal.append(3, "near");
    journal.append(1000, "far");  // 20 bytes cannot have held 996 records
    journal.append(4, "near");
    journal.append(5, "near");
    journal.sync();
  }
  flip_byte(path, static_cast<off_t>(damaged_at + Journal::kHeaderBytes));  // lsn 3
  JournalScan scan = Journal::scan(path);
  std::vector<uint64_t> lsns;
  for (const auto& r : scan.records) lsns.push_back(r.lsn);
  EXPECT_EQ(lsns, (std::vector<uint64_t>{1, 2, 4, 5}));
  ASSERT_EQ(scan.damage.size(), 1u);
  EXPECT_EQ(scan.damage[0].lsn_before, 2u);
  EXPECT_EQ(scan.damage[0].lsn_after, 4u);
}

TEST(Journal, RecordsOfAFailedSyncDoNotComeBack) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  Journal journal(path, 0);  // not preallocated: records extend the file
  const std::string body(1000, 'b');
  journal.append(1, body);
  journal.sync();
  const off_t synced = static_cast<off_t>(Journal::kHeaderBytes + body.size());
  // The file may grow by one and a half records more: the next sync of two writes the
  // first whole, then fails (EFBIG), as a disk filling up mid-write does.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction before {};
  ::sigaction(SIGXFSZ, &ignore, &before);
  rlimit old_limit{};
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit limit = old_limit;
  limit.rlim_cur = static_cast<rlim_t>(synced + synced * 3 / 2);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  journal.append(2, body);
  journal.append(3, body);
  EXPECT_THROW(journal.sync(), SqliteError);
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::sigaction(SIGXFSZ, &before, nullptr);
  // The caller told both writers their writes failed: the file holds lsn 1 only.
  std::vector<uint64_t> lsns;
  for (const auto& r : Journal::read(path)) lsns.push_back(r.lsn);
  EXPECT_EQ(lsns, std::vector<uint64_t>{1});
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, synced);
  // The next sync writes where the failed one began.
  journal.append(2, "again");
  journal.sync();
  lsns.clear();
  for (const auto& r : Journal::read(path)) lsns.push_back(r.lsn);
  EXPECT_EQ(lsns, (std::vector<uint64_t>{1, 2}));
}

TEST(Journal, AfterARewindOnlyTheNewRecordsCount) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  Journal journal(path, 16 << 10);
  // Records over three blocks: a direct write clears the rest of the block it ends in,
  // so the stale records past the first block are still there after the rewind.
  const std::string filler(3000, 'o');
  for (uint64_t lsn = 1; lsn <= 3; ++lsn) journal.append(lsn, filler + std::to_string(lsn));
  journal.sync();
  journal.rewind();
  EXPECT_EQ(journal.offset(), 0u);
  journal.append(6, "new 6");  // shorter than what it overwrites
  journal.sync();
  using Records = std::vector<std::pair<uint64_t, std::string>>;
  // The stale records behind it are not the next lsn, so the chain ends.
  EXPECT_EQ(contents(path), (Records{{6, "new 6"}}));
}

TEST(Journal, DirectSyncsRewriteTheirLastBlockWithoutLosingWhatItHeld) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  std::vector<std::pair<uint64_t, std::string>> expected;
  {
    Journal journal(path, 64 << 10);
    if (!journal.direct()) GTEST_SKIP() << "the file system of " << path << " has no O_DIRECT";
    uint64_t lsn = 1;
    // Syncs of 1 to 4 records of 100 to 1,300 bytes: most start and end inside a block.
    for (int sync = 0; sync < 30; ++sync) {
      for (int i = 0; i <= sync % 4; ++i, ++lsn) {
        std::string payload(100 + (lsn * 379) % 1200, static_cast<char>('a' + lsn % 26));
        journal.append(lsn, payload);
        expected.emplace_back(lsn, payload);
      }
      journal.sync();
      EXPECT_EQ(contents(path), expected) << "after sync " << sync;
    }
    journal.append(lsn, "appended, never synced");
  }
  EXPECT_EQ(contents(path), expected);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 64 << 10);
}

TEST(Journal, WithoutFdatasyncWritesGoThroughThePageCache) {
  testing::TempDir dir;
  Journal journal(dir.file("journal"), 64 << 10, /*fdatasync=*/false);
  EXPECT_TRUE(journal.preallocated());
  EXPECT_FALSE(journal.direct());
  journal.append(1, "one");
  journal.sync();
  EXPECT_EQ(contents(dir.file("journal")).size(), 1u);
}

}  // namespace
}  // namespace syncd
