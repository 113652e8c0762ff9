#include "tests/integration/test_certificates.h"

#include <sys/stat.h>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

// Runs `argv`; appends its failure to `error` (nothing when it succeeds or `error` is set).
void run(std::string& error, const std::vector<std::string>& argv) {
  if (!error.empty()) return;
  CommandResult r = run_command(argv);
  if (r.exit_code != 0) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    error = line + "failed: " + r.err;
  }
}

void new_key(std::string& error, const std::string& path) {
  run(error, {"/usr/bin/openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-out", path});
}

void new_ca(std::string& error, const TempDir& dir, const std::string& name) {
  new_key(error, dir.file(name + ".key"));
  run(error, {"/usr/bin/openssl", "req", "-x509", "-new", "-key", dir.file(name + ".key"), "-subj",
              "/CN=syncd test " + name, "-days", "2", "-out", dir.file(name + ".pem")});
}

// A certificate for `subject` on key `key`, signed by the CA `ca`, valid for `days` (a
// negative count makes it expired).
void sign(std::string& error, const TempDir& dir, const std::string& key,
          const std::string& subject, const std::string& ca, int days, const std::string& ext,
          const std::string& out) {
  const std::string csr = out + ".csr";
  run(error, {"/usr/bin/openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr});
  run(error, {"/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA", dir.file(ca + ".pem"),
              "-CAkey", dir.file(ca + ".key"), "-CAcreateserial", "-days", std::to_string(days),
              "-extfile", ext, "-out", out});
}

std::string pin_of(std::string& error, const std::string& key) {
  if (!error.empty()) return "";
  CommandResult r =
      run_command({"/bin/sh", "-c",
                   "openssl pkey -in '" + key +
                       "' -pubout -outform der | openssl dgst -sha256 -binary | base64 -w0"});
  if (r.exit_code != 0 || r.out.size() != 44) {
    error = "pin of " + key + " failed: " + r.err;
    return "";
  }
  return "sha256//" + r.out;
}

}  // namespace

TestCertificates::TestCertificates(const TempDir& dir) {
  new_ca(error, dir, "ca");
  new_ca(error, dir, "other-ca");
  const std::string server_ext = dir.file("server.ext");
  write_file(server_ext,
             "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
             "basicConstraints=critical,CA:FALSE\n");
  const std::string client_ext = dir.file("client.ext");
  write_file(client_ext, "extendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\n");
  ca = dir.file("ca.pem");
  other_ca = dir.file("other-ca.pem");
  server_key = dir.file("server.key");
  server_cert = dir.file("server.pem");
  expired_cert = dir.file("expired.pem");
  client_key = dir.file("client.key");
  client_cert = dir.file("client.pem");
  new_key(error, server_key);
  sign(error, dir, server_key, "/CN=127.0.0.1", "ca", 2, server_ext, server_cert);
  sign(error, dir, server_key, "/CN=127.0.0.1", "ca", -1, server_ext, expired_cert);
  new_key(error, client_key);
  sign(error, dir, client_key, "/CN=syncd test client", "ca", 2, client_ext, client_cert);
  ::chmod(client_key.c_str(), 0600);
  server_pin = pin_of(error, server_key);
  other_pin = pin_of(error, dir.file("other-ca.key"));
}

}  // namespace syncd::testing
