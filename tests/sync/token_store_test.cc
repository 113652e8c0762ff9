#include "sync/token_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "tests/test_support.h"

namespace syncd {
namespace {

TEST(TokenStore, TokensRoundTripInAFileOfMode0600) {
  testing::TempDir dir;
  TokenStore store(dir.file("token.json"));
  EXPECT_FALSE(store.load()) << "no file: no tokens";
  const mode_t old_mask = ::umask(0);  // the file is 0600 whatever the umask
  store.save(Tokens{"access-1", "refresh-1", fingerprint("r0")});
  ::umask(old_mask);
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("token.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(::access(dir.file("token.json.tmp").c_str(), F_OK), 0) << "no temporary file left";
  store.save(Tokens{"access-2", "refresh-2", fingerprint("r0")});
  auto tokens = store.load();
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->access_token, "access-2");
  EXPECT_EQ(tokens->refresh_token, "refresh-2");
  EXPECT_EQ(tokens->configured, fingerprint("r0"));
  EXPECT_NE(fingerprint("r0"), fingerprint("r1"));
  std::ifstream in(dir.file("token.json"));
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  EXPECT_EQ(text.find("\"r0\""), std::string::npos) << "the configured token itself is not kept";
}

TEST(TokenStore, AFileThatIsNotATokenFileOrCannotBeWrittenIsNamed) {
  testing::TempDir dir;
  { std::ofstream(dir.file("token.json")) << "not json"; }
  TokenStore store(dir.file("token.json"));
  try {
    store.load();
    FAIL() << "garbage is not tokens";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("token.json is not a token file"), std::string::npos)
        << e.what();
  }
  TokenStore nowhere(dir.file("missing/token.json"));
  try {
    nowhere.save(Tokens{"a", "r", ""});
    FAIL() << "no directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace syncd
