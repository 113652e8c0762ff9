#include "util/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace syncd {
namespace {

TEST(Crc32c, MatchesTheStandardCheckValueAndExtendsInPieces) {
  const std::string text = "123456789";
  EXPECT_EQ(crc32c(0, text.data(), text.size()), 0xE3069283u);
  EXPECT_EQ(crc32c(crc32c(0, text.data(), 4), text.data() + 4, 5), 0xE3069283u);
  EXPECT_NE(crc32c(0, "123456780", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(0, text.data(), text.size()), 0xE3069283u);
}

TEST(Crc32c, TheFastAndThePortableVersionAgreeOnEveryLengthAndAlignment) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>(i * 7 + 3));
  for (size_t start = 0; start < 9; ++start) {
    for (size_t size = 0; start + size <= bytes.size(); size += 13) {
      ASSERT_EQ(crc32c(5, bytes.data() + start, size),
                crc32c_portable(5, bytes.data() + start, size))
          << start << " " << size;
    }
  }
}

}  // namespace
}  // namespace syncd
