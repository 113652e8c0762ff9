// The WAL stays bounded while syncd syncs. Online, the loop commits while the applier
// thread checkpoints, so a checkpoint never reached the WAL's end and SQLite never
// started it over: 1,000 writes of 20 KB to ten documents left a WAL of 44-71 MB next to
// a database of 700 KB, and a small disk filled for good.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

int64_t file_bytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

TEST(WalSize, StaysBoundedWhileWritesSyncOnline) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  Syncd syncd(dir, "", {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  const std::string wal = syncd.state_dir() + "/syncd.db-wal";
  const std::string pad(20000, 'p');
  int64_t largest = 0;
  for (int i = 0; i < 1500; ++i) {
    JsonDocument r = client.call("put", R"({"collection":"w","id":"d)" + std::to_string(i % 10) +
                                            R"(","data":{"i":)" + std::to_string(i) +
                                            R"(,"pad":")" + pad + R"("}})");
    ASSERT_TRUE(r.IsObject() && r.HasMember("result")) << to_json(r) << syncd.log();
    if (i % 50 == 0) largest = std::max(largest, file_bytes(wal));
  }
  largest = std::max(largest, file_bytes(wal));
  // 30 MB of writes; the WAL's limit is 8 MB (journal_size_limit), with room for a
  // checkpoint that found the loop busy.
  EXPECT_LE(largest, int64_t{20} << 20) << "largest WAL seen, bytes";
  EXPECT_EQ(exit_code(syncd.stop()), 0) << syncd.log();
}

}  // namespace
}  // namespace syncd::testing
