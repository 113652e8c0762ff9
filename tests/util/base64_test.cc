#include "util/base64.h"

#include <gtest/gtest.h>

#include "sync/jwt_expiry.h"

namespace syncd {
namespace {

TEST(Base64, TheVectorsOfRfc4648) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Base64, Base64urlDecodesWithOrWithoutPaddingAndRefusesOtherAlphabets) {
  EXPECT_EQ(base64url_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(base64url_decode("Zm9vYg"), "foob");
  EXPECT_EQ(base64url_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64url_decode("__4A"), std::string("\xff\xfe\x00", 3));
  EXPECT_EQ(base64url_decode(""), "");
  EXPECT_FALSE(base64url_decode("//4A"));   // base64's alphabet, not base64url's
  EXPECT_FALSE(base64url_decode("Zm9vY"));  // 5 characters cannot end a group
  EXPECT_FALSE(base64url_decode("Zm 9v"));
}

TEST(JwtExpiry, TheExpClaimOfAThreePartTokenOnly) {
  EXPECT_EQ(jwt_expiry_s("eyJhbGciOiJub25lIn0.eyJleHAiOjE4MDAwMDAwMDB9.sig"), 1800000000);
  EXPECT_FALSE(jwt_expiry_s("opaque-token"));
  EXPECT_FALSE(jwt_expiry_s("a.b"));
  EXPECT_FALSE(jwt_expiry_s("a.eyJleHAiOjE4MDAwMDAwMDB9.c.d"));
  EXPECT_FALSE(jwt_expiry_s("a.eyJzdWIiOiJ4In0.c"));      // {"sub":"x"}: no exp
  EXPECT_FALSE(jwt_expiry_s("a.eyJleHAiOiJzb29uIn0.c"));  // {"exp":"soon"}
  EXPECT_FALSE(jwt_expiry_s("a.eyJleHAiOi0xfQ.c"));       // {"exp":-1}
  EXPECT_FALSE(jwt_expiry_s("a.bm90IGpzb24.c"));          // "not json"
}

}  // namespace
}  // namespace syncd
