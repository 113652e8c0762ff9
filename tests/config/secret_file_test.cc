// Secrets from files: read when the file is the owner's alone, refused naming the file
// and its mode otherwise.
#include "config/secret_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/test_support.h"

namespace syncd {
namespace {

std::string write_secret(const testing::TempDir& dir, const std::string& text, mode_t mode) {
  const std::string path = dir.file("password");
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
  return path;
}

std::string error_of(const std::string& path) {
  try {
    read_secret_file(path, "auth.password_file");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(SecretFile, TheOwnersFileIsReadWithoutItsTrailingNewline) {
  testing::TempDir dir;
  EXPECT_EQ(read_secret_file(write_secret(dir, "s3:cret\n", 0600), "k"), "s3:cret");
  EXPECT_EQ(read_secret_file(write_secret(dir, "x", 0400), "k"), "x");
}

TEST(SecretFile, AFileOthersMayReadIsRefusedNamingItsMode) {
  testing::TempDir dir;
  const std::string path = write_secret(dir, "pw", 0644);
  EXPECT_EQ(error_of(path), "auth.password_file: " + path +
                                " may be read by group or others (mode 0644): chmod 600 it");
  EXPECT_NE(error_of(write_secret(dir, "pw", 0640)).find("(mode 0640)"), std::string::npos);
}

TEST(SecretFile, MissingEmptyOrNotAFileIsRefused) {
  testing::TempDir dir;
  EXPECT_EQ(error_of(dir.file("none")),
            "auth.password_file: " + dir.file("none") + ": No such file or directory");
  EXPECT_NE(error_of(write_secret(dir, "\n", 0600)).find(": empty"), std::string::npos);
  EXPECT_NE(error_of(dir.path()).find("not a regular file"), std::string::npos);
}

TEST(RemoteUrl, AQueryOrFragmentIsRefused) {
  Config c;
  for (const char* url : {"http://h/db?x=1", "http://h/db#f"}) {
    c.remote = url;
    EXPECT_THROW(validate_config(c), ConfigError) << url;
  }
}

TEST(SecretFile, BasicAuthNeedsBothKeysAndNoBearerToken) {
  Config c;
  c.auth.password_file = "/x";
  EXPECT_THROW(validate_config(c), ConfigError);
  c.auth.username = "boss";  // without a password file: load_secrets refuses (auth_config_test)
  EXPECT_NO_THROW(validate_config(c));
  c.auth.token = "t";
  EXPECT_THROW(validate_config(c), ConfigError);
  c.auth.token.clear();
  c.auth.username = "a:b";
  EXPECT_THROW(validate_config(c), ConfigError);
}

}  // namespace
}  // namespace syncd
