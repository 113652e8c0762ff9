#include "store/keys.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(Keys, AcceptsPrintableUtf8UpTo256Bytes) {
  EXPECT_FALSE(check_key("notes", "collection"));
  EXPECT_FALSE(check_key("2026/11/26 üñî 日本", "id"));
  EXPECT_FALSE(check_key(std::string(256, 'a'), "id"));
}

TEST(Keys, RejectsEmptyLongControlAndBadUtf8) {
  EXPECT_EQ(*check_key("", "collection"), "collection is empty");
  EXPECT_NE(check_key(std::string(257, 'a'), "id")->find("257 bytes"), std::string::npos);
  EXPECT_NE(check_key("a\nb", "id")->find("control character at byte 1"), std::string::npos);
  EXPECT_NE(check_key("a\x7f", "id")->find("control"), std::string::npos);
  EXPECT_NE(check_key("a\xc3", "id")->find("not valid UTF-8 at byte 1"), std::string::npos);
  EXPECT_NE(check_key("\xc0\xaf", "id")->find("UTF-8"), std::string::npos);      // overlong
  EXPECT_NE(check_key("\xed\xa0\x80", "id")->find("UTF-8"), std::string::npos);  // surrogate
  EXPECT_NE(check_key("\xc2\x85", "id")->find("UTF-8"), std::string::npos);      // C1 control
}

}  // namespace
}  // namespace syncd
