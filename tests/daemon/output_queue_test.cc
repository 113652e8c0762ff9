#include "daemon/output_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace syncd {
namespace {

constexpr size_t kChunk = OutputQueue::kChunkBytes;

std::string drain(OutputQueue& q, size_t at_most) {
  uv_buf_t bufs[4];
  const size_t n = q.peek(bufs, 4);
  std::string out;
  for (size_t i = 0; i < n && out.size() < at_most; ++i) {
    out.append(bufs[i].base, std::min<size_t>(bufs[i].len, at_most - out.size()));
  }
  q.consume(out.size());
  return out;
}

TEST(OutputQueue, GivesBackWhatWasAppendedInOrderAcrossChunks) {
  size_t total = 0;
  OutputQueue q(total);
  std::string sent;
  for (int i = 0; i < 1000; ++i) {
    std::string line = "line " + std::to_string(i) + " " + std::string(i % 97, 'x') + "\n";
    q.append(line);
    sent += line;
  }
  EXPECT_EQ(q.unsent_bytes(), sent.size());
  std::string got;
  while (!q.empty()) got += drain(q, 5000);  // partial writes, not on chunk boundaries
  EXPECT_EQ(got, sent);
  EXPECT_EQ(q.held_bytes(), 0u) << "every chunk is freed once written";
  EXPECT_EQ(total, 0u);
}

TEST(OutputQueue, HoldsWholeChunksAndCountsThemInTheSharedTotal) {
  size_t total = 0;
  OutputQueue a(total), b(total);
  a.append(std::string(kChunk + 1, 'a'));
  b.append("b");
  EXPECT_EQ(a.held_bytes(), 2 * kChunk);
  EXPECT_EQ(b.held_bytes(), kChunk);
  EXPECT_EQ(total, 3 * kChunk);
  EXPECT_EQ(a.held_after(kChunk - 1), 2 * kChunk) << "fits in the last chunk's room";
  EXPECT_EQ(a.held_after(kChunk), 3 * kChunk);
  EXPECT_EQ(OutputQueue(total).held_after(1), kChunk);
  a.consume(kChunk);
  EXPECT_EQ(a.held_bytes(), kChunk);
  EXPECT_EQ(total, 2 * kChunk);
  b.clear();
  EXPECT_EQ(total, kChunk);
}

TEST(OutputQueue, DropAfterKeepsOnlyWhatAWriteStillPointsAt) {
  size_t total = 0;
  OutputQueue q(total);
  q.append(std::string(100, 'x'));
  q.consume(40);
  q.append(std::string(3 * kChunk, 'y'));
  q.drop_after(100);
  EXPECT_EQ(q.unsent_bytes(), 100u);
  EXPECT_EQ(q.held_bytes(), kChunk);
  EXPECT_EQ(drain(q, 1000), std::string(60, 'x') + std::string(40, 'y'));
  EXPECT_EQ(total, 0u);
}

TEST(OutputQueue, AppendFromMovesEverything) {
  size_t total = 0;
  OutputQueue q(total), later(total);
  q.append("answer\n");
  later.append(std::string(kChunk + 10, 'n'));
  q.append_from(later);
  EXPECT_TRUE(later.empty());
  EXPECT_EQ(later.held_bytes(), 0u);
  EXPECT_EQ(q.unsent_bytes(), 7 + kChunk + 10);
  EXPECT_EQ(total, q.held_bytes());
}

TEST(OutputQueue, ASecondCounterSeesTheSameHeldBytesFromWhenItIsGiven) {
  size_t total = 0;
  size_t uid = 0;
  OutputQueue a(total);
  OutputQueue b(total);
  a.append(std::string(100, 'x'));
  a.count_in(&uid);
  EXPECT_EQ(uid, OutputQueue::kChunkBytes) << "what it held already counts";
  b.count_in(&uid);
  b.append(std::string(OutputQueue::kChunkBytes + 1, 'y'));
  EXPECT_EQ(uid, 3 * OutputQueue::kChunkBytes);
  EXPECT_EQ(total, uid);
  b.consume(OutputQueue::kChunkBytes);
  EXPECT_EQ(uid, 2 * OutputQueue::kChunkBytes);
  b.drop_after(0);
  a.count_in(nullptr);
  EXPECT_EQ(uid, 0u);
  EXPECT_EQ(total, OutputQueue::kChunkBytes);
  a.clear();
  EXPECT_EQ(total, 0u);
}

}  // namespace
}  // namespace syncd
