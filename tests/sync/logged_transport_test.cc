// Debug request lines name the path, never a query, a user or a password.
#include "sync/logged_transport.h"

#include <gtest/gtest.h>

#include "util/url_encode.h"

namespace syncd {
namespace {

TEST(LoggedTransport, ThePathLeavesOutUserInfoQueryAndFragment) {
  EXPECT_EQ(url_path("https://user:secret@example.com:8443/v1/pull?cursor=9&x=1"), "/v1/pull");
  EXPECT_EQ(url_path("http://example.com/db/_changes#frag"), "/db/_changes");
  EXPECT_EQ(url_path("http://example.com"), "/");
  EXPECT_EQ(url_path("http://example.com?token=x"), "/");
  EXPECT_EQ(url_path("http://example.com?next=/a/b"), "/");
}

TEST(LoggedTransport, AUrlShownLeavesItsUserInfoOut) {
  EXPECT_EQ(url_without_user_info("https://client:s3cret@auth.test/token"),
            "https://auth.test/token");
  EXPECT_EQ(url_without_user_info("http://host/a@b"), "http://host/a@b")
      << "an @ in the path stays";
  EXPECT_EQ(url_without_user_info("http://u@host"), "http://host");
  EXPECT_EQ(url_without_user_info("http://host:8787"), "http://host:8787");
}

}  // namespace
}  // namespace syncd
