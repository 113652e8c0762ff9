#include "tests/integration/pouch_server.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <map>

namespace syncd::testing {

PouchServer::PouchServer(const TempDir& dir, PouchServerOptions options)
    : options_(std::move(options)),
      work_dir_(dir.file("pouchdb-server")),
      data_dir_(dir.file("pouchdb-server/data")),
      config_path_(dir.file("pouchdb-server/config.json")),
      log_path_(dir.file("pouchdb-server/log.txt")),
      output_path_(dir.file("pouchdb-server/output.txt")) {}

PouchServer::~PouchServer() { kill(); }

std::string PouchServer::admin_credentials() const {
  return options_.admin_name.empty() ? "" : options_.admin_name + ":" + options_.admin_password;
}

void PouchServer::write_config() const {
  std::string config = "{\"log\": {\"file\": " + json_quote(log_path_) + "}";
  if (!options_.admin_name.empty()) {
    // Plain text here; the server replaces it with a pbkdf2 hash at start, as CouchDB does.
    config += ", \"admins\": {" + json_quote(options_.admin_name) + ": " +
              json_quote(options_.admin_password) + "}";
  }
  if (options_.session_timeout_s > 0) {
    // A number, not a string: pouchdb-auth adds the timeout to the cookie's time stamp,
    // and with the string "2" that is a concatenation and the cookie never expires.
    config +=
        ", \"couch_httpd_auth\": {\"timeout\": " + std::to_string(options_.session_timeout_s) + "}";
  }
  write_file(config_path_, config + "}\n");
}

bool PouchServer::start(Millis timeout) {
  error_.clear();
  if (::access(SYNCD_POUCHDB_SERVER, X_OK) != 0) {
    error_ = std::string("pouchdb-server is not installed at ") + SYNCD_POUCHDB_SERVER +
             " (SYNCD_POUCHDB_SERVER); ./scripts/test installs it, or run: bash -c 'source "
             "scripts/lib.sh && ensure_pouchdb_server BUILD_DIR' (needs the Debian packages "
             "nodejs and npm)";
    return false;
  }
  if (port_ == 0) {
    ::mkdir(work_dir_.c_str(), 0755);
    if (!options_.in_memory) ::mkdir(data_dir_.c_str(), 0755);
    write_config();
    port_ = free_port();
  }
  std::vector<std::string> argv = {
      SYNCD_POUCHDB_SERVER, "--host",     "127.0.0.1",        "--port",    std::to_string(port_),
      "--config",           config_path_, "--no-stdout-logs", "--no-color"};
  if (options_.in_memory) {
    argv.push_back("--in-memory");
  } else {
    argv.push_back("--dir");
    argv.push_back(data_dir_ + "/");
  }
  process_ = std::make_unique<Process>(argv, output_path_, output_path_,
                                       std::map<std::string, std::string>{}, work_dir_);
  const std::string root = url() + "/";
  bool up = wait_until(
      [&] {
        if (!process_->running()) return true;
        HttpResult r = http_send(TestHttpRequest("GET", root).with_timeout(Millis(1000)));
        return r.status == 200 && r.body.find("\"version\"") != std::string::npos;
      },
      timeout);
  if (!up || !process_->running()) {
    error_ = "pouchdb-server did not answer GET / on port " + std::to_string(port_) +
             (process_->running() ? " in time" : " (it exited)") + "; its output:\n" + output();
    kill();
    return false;
  }
  return true;
}

void PouchServer::stop() {
  if (!process_ || !process_->running()) return;
  process_->signal(SIGTERM);
  if (!process_->wait_exit(Millis(5000))) kill();
}

void PouchServer::kill() {
  if (!process_ || !process_->running()) return;
  process_->signal(SIGKILL);
  process_->wait_exit(Millis(10000));
}

bool PouchServer::restart(Millis timeout) {
  stop();
  return start(timeout);
}

bool PouchServer::running() { return process_ && process_->running(); }

HttpResult PouchServer::send(const std::string& method, const std::string& path,
                             std::optional<std::string> body, std::vector<std::string> headers,
                             Millis timeout) const {
  TestHttpRequest request(method, url() + path);
  request.body = std::move(body);
  request.headers = std::move(headers);
  return http_send(request.with_basic_auth(admin_credentials()).with_timeout(timeout));
}

std::string url_encode(const std::string& segment) {
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

}  // namespace syncd::testing
