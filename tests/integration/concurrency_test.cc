// 16 clients writing and reading at once, and group commit observed from outside.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

TEST(Concurrency, SixteenClientsWriteAndReadTheirOwnDocuments) {
  TempDir dir;
  Syncd syncd(dir);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  constexpr int kClients = 16;
  constexpr int kWritesEach = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      Client client(syncd.socket());
      if (!client.connected()) {
        ++failures;
        return;
      }
      for (int i = 0; i < kWritesEach; ++i) {
        std::string id = "c" + std::to_string(c) + "-" + std::to_string(i);
        std::string data =
            R"({"client":)" + std::to_string(c) + R"(,"n":)" + std::to_string(i) + "}";
        JsonDocument put =
            client.call("put", R"({"collection":"load","id":")" + id + R"(","data":)" + data + "}");
        if (!put.IsObject() || !put.HasMember("result")) {
          ++failures;
          continue;
        }
        // Read back someone else's earlier document too: reads never see partial writes.
        JsonDocument get = client.call("get", R"({"collection":"load","id":")" + id + R"("})");
        if (!get.IsObject() || !get.HasMember("result") || to_json(get["result"]["data"]) != data) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  Client check(syncd.socket());
  JsonDocument status = check.call("status");
  EXPECT_EQ(status["result"]["queue"]["pending"].GetInt(), kClients * kWritesEach);
  int listed = 0;
  std::string after;
  while (true) {
    JsonDocument page = check.call(
        "list", R"({"collection":"load","limit":1000)" +
                    (after.empty() ? std::string() : R"(,"after":")" + after + "\"") + "}");
    listed += static_cast<int>(page["result"]["items"].Size());
    if (page["result"]["next"].IsNull()) break;
    after = page["result"]["next"].GetString();
  }
  EXPECT_EQ(listed, kClients * kWritesEach);
  JsonDocument metrics = check.call("metrics");
  EXPECT_EQ(metrics["result"]["writes"].GetInt(), kClients * kWritesEach);
  EXPECT_EQ(syncd.stop(), 0);
}

TEST(Concurrency, PipelinedWritesShareOneCommitAndAnswersKeepRequestOrder) {
  TempDir dir;
  Syncd syncd(dir);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  JsonDocument before = client.call("metrics");
  const int commits_before = before["result"]["commits"].GetInt();
  std::string frames;
  constexpr int kWrites = 200;
  for (int i = 0; i < kWrites; ++i) {
    frames += R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
              R"(,"method":"put","params":{"collection":"p","id":"d)" + std::to_string(i) +
              R"(","data":{"i":)" + std::to_string(i) + "}}}\n";
  }
  ASSERT_TRUE(client.send_raw(frames));  // one send: one read on the daemon's side
  for (int i = 0; i < kWrites; ++i) {
    auto line = client.read_line();
    ASSERT_TRUE(line) << "answer " << i;
    JsonDocument answer;
    ASSERT_FALSE(parse_json(*line, answer));
    ASSERT_EQ(answer["id"].GetInt(), i) << "answers come back in request order";
  }
  JsonDocument after = client.call("metrics");
  EXPECT_EQ(after["result"]["commits"].GetInt() - commits_before, 1)
      << "all writes read in one loop turn commit together";
  EXPECT_GE(after["result"]["commit_batch_max"].GetInt(), kWrites);
  EXPECT_LE(after["result"]["journal_unapplied"].GetUint64(), static_cast<uint64_t>(kWrites));
  // A list settles the journal: every acknowledged write is in the tables after it.
  ASSERT_TRUE(client.call("list", R"({"collection":"p"})").HasMember("result"));
  EXPECT_EQ(client.call("metrics")["result"]["journal_unapplied"].GetUint64(), 0u);
}

}  // namespace
}  // namespace syncd::testing
