// The transport-security settings: tls.* keys read and checked, credentials refused over
// plain http:// to a host outside loopback unless remote.allow_insecure_http, the
// warnings a start gives, and the TLS files checked before any handshake.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "config/config.h"
#include "config/secret_file.h"
#include "tests/test_support.h"
#include "util/url_encode.h"

namespace syncd {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "t.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const char* const kPin = "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=";

TEST(TlsConfig, KeysAreReadAndOnePinOrSeveralAreAccepted) {
  Config c = parse_config(std::string(R"({"tls": {"ca_file": "/etc/ca.pem",
      "client_cert": "/c.pem", "client_key": "/c.key", "pinned_pubkey": ")") +
                              kPin + R"(", "insecure_skip_verify": true}})",
                          "t");
  EXPECT_EQ(c.tls.ca_file, "/etc/ca.pem");
  EXPECT_EQ(c.tls.client_cert, "/c.pem");
  EXPECT_EQ(c.tls.client_key, "/c.key");
  EXPECT_EQ(c.tls.pinned_pubkeys, std::vector<std::string>{kPin});
  EXPECT_TRUE(c.tls.insecure_skip_verify);
  c = parse_config(
      std::string(R"({"tls": {"pinned_pubkey": [")") + kPin + R"(", ")" + kPin + R"("]}})", "t");
  EXPECT_EQ(c.tls.pinned_pubkeys.size(), 2u);
  EXPECT_FALSE(parse_config("{}", "t").tls.insecure_skip_verify);
}

TEST(TlsConfig, AMalformedPinOrAHalfClientCertificateIsRefused) {
  EXPECT_EQ(error_of(R"({"tls": {"pinned_pubkey": "sha1//abc"}})"),
            "t.json: tls.pinned_pubkey: expected \"sha256//\" and the base64 of a SHA-256 digest "
            "(44 characters), got \"sha1//abc\"");
  EXPECT_NE(error_of(R"({"tls": {"pinned_pubkey": ["sha256//short="]}})").find("44 characters"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"tls": {"pinned_pubkey": [7]}})").find("got number"), std::string::npos);
  EXPECT_EQ(error_of(R"({"tls": {"client_cert": "/c.pem"}})"),
            "t.json: tls.client_cert and tls.client_key: a client certificate needs both");
  EXPECT_EQ(error_of(R"({"tls": {"insecure_skip_verify": "yes"}})"),
            "t.json: tls.insecure_skip_verify: expected true or false, got string");
}

TEST(TlsConfig, CredentialsOverPlainHttpLeaveLoopbackOnlyWhenAllowed) {
  EXPECT_EQ(error_of(R"({"remote": "http://sync.example.com:8080/", "auth": {"token": "t"}})"),
            "t.json: remote: http://sync.example.com:8080/ is plain http:// to a host outside "
            "loopback, and credentials would cross the network readable: use https://, or set "
            "remote.allow_insecure_http");
  // The token endpoint counts too, and user info in the URL is not repeated.
  EXPECT_NE(error_of(R"({"remote": "https://s.example", "auth": {"refresh_token": "r",
                         "token_url": "http://u:pw@10.0.0.7/token"}})")
                .find("auth.token_url: http://10.0.0.7/token is plain http://"),
            std::string::npos);
  // No credentials, loopback, https, or the switch: accepted.
  EXPECT_EQ(error_of(R"({"remote": "http://sync.example.com"})"), "");
  EXPECT_EQ(error_of(R"({"remote": "http://127.0.0.1:8787", "auth": {"token": "t"}})"), "");
  EXPECT_EQ(error_of(R"({"remote": "http://[::1]:8787/", "auth": {"token": "t"}})"), "");
  EXPECT_EQ(error_of(R"({"remote": "https://sync.example.com", "auth": {"token": "t"}})"), "");
  Config c = parse_config(R"({"remote": {"url": "http://sync.example.com",
                              "allow_insecure_http": true}, "auth": {"token": "t"}})",
                          "t");
  EXPECT_TRUE(c.allow_insecure_http);
  ASSERT_EQ(config_warnings(c).size(), 1u);
  EXPECT_NE(config_warnings(c)[0].find("remote.allow_insecure_http"), std::string::npos);
  EXPECT_EQ(error_of(R"({"remote": {"url": "http://x", "allow_insecure_http": 1}})"),
            "t.json: remote: allow_insecure_http: expected true or false, got number");
}

TEST(TlsConfig, SkippingVerificationIsAWarningAndTheDefaultsHaveNone) {
  EXPECT_TRUE(config_warnings(parse_config("{}", "t")).empty());
  auto warnings = config_warnings(parse_config(R"({"tls": {"insecure_skip_verify": true}})", "t"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("tls.insecure_skip_verify is set", 0), 0u) << warnings[0];
}

TEST(UrlHost, TheHostWithoutUserInfoPortOrBracketsAndWhetherItIsLoopback) {
  EXPECT_EQ(url_host("https://u:p@[::1]:8443/db"), "::1");
  EXPECT_EQ(url_host("http://Sync.Example.COM:80"), "sync.example.com");
  EXPECT_EQ(url_host("http://127.0.0.1/x?y"), "127.0.0.1");
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.8.9.10"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("127.evil.example"));
  EXPECT_FALSE(is_loopback_host("127.0.0.1.nip.io"));
  EXPECT_FALSE(is_loopback_host("127.0.0"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host(""));
}

TEST(TlsConfig, TheFilesAreCheckedAtStartAndTheKeyMustBeTheOwnersAlone) {
  testing::TempDir dir;
  const std::string cert = dir.file("client.pem");
  const std::string key = dir.file("client.key");
  std::ofstream(cert) << "cert";
  std::ofstream(key) << "key";
  ::chmod(cert.c_str(), 0644);
  ::chmod(key.c_str(), 0640);
  Config c;
  c.tls.client_cert = cert;
  c.tls.client_key = key;
  try {
    load_secrets(c);
    ADD_FAILURE() << "a group-readable client key was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "tls.client_key: " + key +
                                         " may be read by group or others (mode 0640): chmod "
                                         "600 it");
  }
  ::chmod(key.c_str(), 0600);
  EXPECT_NO_THROW(load_secrets(c));
  c.tls.ca_file = dir.file("missing-ca.pem");
  try {
    load_secrets(c);
    ADD_FAILURE() << "a missing CA file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "tls.ca_file: " + dir.file("missing-ca.pem") + ": No such file or directory");
  }
}

TEST(TlsConfig, ASecretFromASystemdCredentialCountsAndSchemesAreCaseInsensitive) {
  testing::TempDir dir;
  ::mkdir(dir.file("creds").c_str(), 0700);
  std::ofstream(dir.file("creds/auth.token")) << "t0\n";
  ::chmod(dir.file("creds/auth.token").c_str(), 0400);
  ::setenv("CREDENTIALS_DIRECTORY", dir.file("creds").c_str(), 1);
  Config c = parse_config(R"({"remote": "http://10.9.8.7:8080"})", "t");
  std::string error;
  try {
    load_secrets(c);
  } catch (const ConfigError& e) {
    error = e.what();
  }
  ::unsetenv("CREDENTIALS_DIRECTORY");
  EXPECT_EQ(error.rfind("remote: http://10.9.8.7:8080 is plain http:// to a host outside", 0), 0u)
      << error;
  EXPECT_NE(error_of(R"({"auth": {"refresh_token": "r", "token_url": "HTTP://10.9.8.7/token"}})")
                .find("auth.token_url: HTTP://10.9.8.7/token is plain http://"),
            std::string::npos);
  EXPECT_EQ(
      error_of(R"({"auth": {"token_url": "ftp://10.9.8.7/token"}})"),
      "t.json: auth.token_url: expected an http:// or https:// URL, got \"ftp://10.9.8.7/token\"");
  EXPECT_EQ(error_of(R"({"remote": "HTTP://10.1.1.1", "auth": {"token": "t"}})")
                .rfind("t.json: remote: HTTP://10.1.1.1 is plain http://", 0),
            0u);
}

}  // namespace
}  // namespace syncd
