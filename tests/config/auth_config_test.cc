// Where the remote's secrets come from: *_file keys (the owner's alone), systemd
// credentials ($CREDENTIALS_DIRECTORY/auth.NAME), or inline in a config file that only
// its owner may read, with a warning; and what each auth.mode needs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "config/config.h"
#include "config/secret_file.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

std::string secret_file(const testing::TempDir& dir, const std::string& name,
                        const std::string& text, mode_t mode = 0600) {
  const std::string path = dir.file(name);
  std::ofstream(path) << text << "\n";
  ::chmod(path.c_str(), mode);
  return path;
}

// The message load_secrets throws for `config` (read from `text`), "" when it loads.
std::string load_error(const std::string& text, Config* out = nullptr,
                       const std::string& path = "") {
  try {
    Config c = parse_config(text, "t.json");
    load_secrets(c, path);
    if (out) *out = c;
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(AuthConfig, SecretsAreReadFromTheirFilesAndNeverWarnedAbout) {
  testing::TempDir dir;
  Config c;
  ASSERT_EQ(load_error(R"({"auth": {"mode": "oauth2", "token_url": "http://127.0.0.1:1/t",
                          "token_file": ")" +
                           secret_file(dir, "access", "a-1") + R"(",
                          "refresh_token_file": ")" +
                           secret_file(dir, "refresh", "r-1") + R"(",
                          "client_id": "dev", "client_secret_file": ")" +
                           secret_file(dir, "secret", "s-1") + R"("}})",
                       &c),
            "");
  EXPECT_EQ(c.auth.token, "a-1");
  EXPECT_EQ(c.auth.refresh_token, "r-1");
  EXPECT_EQ(c.auth.client_secret, "s-1");
  EXPECT_TRUE(c.auth.inline_secrets.empty());
  EXPECT_TRUE(config_warnings(c).empty());
}

TEST(AuthConfig, ASecretFileOthersMayReadIsRefusedNamingKeyFileAndMode) {
  testing::TempDir dir;
  const std::string path = secret_file(dir, "token", "t", 0640);
  EXPECT_EQ(
      load_error(R"({"auth": {"token_file": ")" + path + R"("}})"),
      "auth.token_file: " + path + " may be read by group or others (mode 0640): chmod 600 it");
}

TEST(AuthConfig, AnInlineSecretWorksWithAWarningUnlessTheConfigFileIsReadableByOthers) {
  testing::TempDir dir;
  const std::string text = R"({"auth": {"token": "inline-t0ken"}})";
  const std::string path = secret_file(dir, "syncd.json", text, 0644);
  EXPECT_EQ(load_error(text, nullptr, path),
            path +
                " holds auth.token and may be read by group or others (mode 0644): chmod 600 "
                "it, or move the secret to auth.token_file");
  ::chmod(path.c_str(), 0600);
  Config c;
  ASSERT_EQ(load_error(text, &c, path), "");
  ASSERT_EQ(config_warnings(c).size(), 1u);
  EXPECT_EQ(config_warnings(c)[0],
            "auth.token is written in the config file: move it to auth.token_file (mode 0600) or "
            "a systemd credential (LoadCredential=auth.token:FILE)");
  EXPECT_EQ(config_warnings(c)[0].find("inline-t0ken"), std::string::npos);
}

TEST(AuthConfig, BothAnInlineSecretAndItsFileIsRefused) {
  testing::TempDir dir;
  EXPECT_EQ(load_error(R"({"auth": {"token": "x", "token_file": ")" + secret_file(dir, "t", "y") +
                       R"("}})"),
            "auth.token and auth.token_file: give one of them");
}

TEST(AuthConfig, SystemdCredentialsFillTheSecretsNoKeyNames) {
  testing::TempDir dir;
  ::mkdir(dir.file("creds").c_str(), 0700);
  std::ofstream(dir.file("creds/auth.client_secret")) << "from-systemd\n";
  ::chmod(dir.file("creds/auth.client_secret").c_str(), 0400);
  ::setenv("CREDENTIALS_DIRECTORY", dir.file("creds").c_str(), 1);
  Config c;
  const std::string error = load_error(R"({"auth": {"mode": "oauth2",
      "token_url": "http://127.0.0.1:1/t", "client_id": "dev"}})",
                                       &c);
  ::unsetenv("CREDENTIALS_DIRECTORY");
  ASSERT_EQ(error, "");
  EXPECT_EQ(c.auth.client_secret, "from-systemd");
  EXPECT_TRUE(c.auth.token.empty());
  EXPECT_TRUE(config_warnings(c).empty());
}

TEST(AuthConfig, EachModeNamesWhatItLacks) {
  EXPECT_EQ(load_error(R"({"auth": {"mode": "bearer"}})"),
            "auth.mode bearer: needs auth.token_file (or the systemd credential auth.token)");
  EXPECT_EQ(load_error(R"({"auth": {"mode": "oauth2"}})"),
            "auth.mode oauth2: needs auth.token_url");
  EXPECT_EQ(load_error(R"({"auth": {"mode": "oauth2", "token_url": "http://127.0.0.1:1/t"}})"),
            "auth.mode oauth2: needs auth.refresh_token_file (the refresh_token grant), or "
            "auth.client_id with auth.client_secret_file (the client_credentials grant)");
  EXPECT_EQ(load_error(R"({"auth": {"mode": "basic", "username": "u"}})"),
            "auth.mode basic: needs auth.password_file (or the systemd credential auth.password)");
  EXPECT_EQ(load_error(R"({"auth": {"username": "u"}})"),
            "auth.mode basic: needs auth.password_file (or the systemd credential auth.password)");
  EXPECT_EQ(load_error(R"({"auth": {"mode": "none", "token": "t"}})"),
            "auth.mode none: auth.token is set: remove it");
  EXPECT_EQ(load_error(R"({"auth": {"mode": "sometimes"}})"),
            "t.json: auth.mode: expected one of none, bearer, oauth2, basic, got \"sometimes\"");
  EXPECT_EQ(load_error("{}"), "");
}

TEST(AuthConfig, OnlyTheSecretsAreHiddenNotThePathsToThem) {
  EXPECT_TRUE(is_secret_key("auth.token"));
  EXPECT_TRUE(is_secret_key("auth.refresh_token"));
  EXPECT_TRUE(is_secret_key("auth.client_secret"));
  EXPECT_FALSE(is_secret_key("auth.token_file"));
  EXPECT_FALSE(is_secret_key("auth.token_url"));
  Config a = parse_config(R"({"auth": {"token": "old-secret"}})", "t");
  Config b = parse_config(R"({"auth": {"token": "new-secret"}})", "t");
  auto changes = describe_changes(a, b);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], "auth.token: (changed)");
}

}  // namespace
}  // namespace syncd
