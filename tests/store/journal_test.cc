#include "store/journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

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

TEST(Journal, ReadingStopsAtATornOrDamagedRecord) {
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
  flip_byte(path, static_cast<off_t>(Journal::kHeaderBytes) + 1);  // a payload byte of "one"
  EXPECT_TRUE(contents(path).empty());
}

TEST(Journal, AfterARewindOnlyTheNewRecordsCount) {
  testing::TempDir dir;
  const std::string path = dir.file("journal");
  Journal journal(path, 4096);
  for (uint64_t lsn = 1; lsn <= 5; ++lsn) journal.append(lsn, "old record " + std::to_string(lsn));
  journal.sync();
  journal.rewind();
  EXPECT_EQ(journal.offset(), 0u);
  journal.append(6, "new 6");  // shorter than what it overwrites
  journal.sync();
  using Records = std::vector<std::pair<uint64_t, std::string>>;
  // The stale records behind it are not the next lsn, so the chain ends.
  EXPECT_EQ(contents(path), (Records{{6, "new 6"}}));
}

}  // namespace
}  // namespace syncd
