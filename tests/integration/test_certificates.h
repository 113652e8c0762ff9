#pragma once
// Certificates for TLS tests, made with openssl in a temp dir: a CA and what it signed
// (a server certificate for 127.0.0.1, an expired one, a client certificate), another CA
// that signed none of them, and the server key's pin in libcurl's "sha256//" form.
#include <string>

#include "tests/test_support.h"

namespace syncd::testing {

struct TestCertificates {
  // Makes them all in `dir`; `error` says what failed (empty when all is well).
  explicit TestCertificates(const TempDir& dir);

  std::string error;
  std::string ca;           // the CA's certificate (tls.ca_file)
  std::string other_ca;     // a CA that signed nothing here
  std::string server_cert;  // for IP 127.0.0.1, signed by `ca`
  std::string server_key;
  std::string expired_cert;  // the same key and name, expired yesterday
  std::string client_cert;   // signed by `ca`
  std::string client_key;    // mode 0600
  std::string server_pin;    // "sha256//<base64 of the SHA-256 of the public key>"
  std::string other_pin;     // a pin of another key
};

}  // namespace syncd::testing
