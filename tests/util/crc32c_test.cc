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
}

}  // namespace
}  // namespace syncd
