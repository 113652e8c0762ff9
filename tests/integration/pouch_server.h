#pragma once
// PouchDB Server (npm pouchdb-server 4.2.0, a CouchDB-protocol server no one here wrote)
// as a child process for integration tests: on 127.0.0.1 at a free port, in memory or on
// a data dir, with its config file, log file and working directory inside the test's temp
// dir (by default it writes config.json and log.txt into the cwd). The executable is
// SYNCD_POUCHDB_SERVER (tests/CMakeLists.txt), installed by scripts/lib.sh's
// ensure_pouchdb_server. Every wait has a deadline; nothing sleeps to synchronise.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace syncd::testing {

struct PouchServerOptions {
  // Memory (`-m`: lost at every stop) or a data dir (`-d <temp>/pouchdb-data`, kept
  // across restarts).
  bool in_memory = true;
  // A server admin written into the config file (the server stores it hashed): without
  // one, everyone is admin ("admin party"). With one, anonymous requests still read and
  // write databases that have no _security members.
  std::string admin_name;
  std::string admin_password;
  // couch_httpd_auth/timeout: an AuthSession cookie's life in seconds (server default
  // 600); 0 leaves the default.
  int session_timeout_s = 0;
};

class PouchServer {
 public:
  explicit PouchServer(const TempDir& dir, PouchServerOptions options = {});
  ~PouchServer();
  PouchServer(const PouchServer&) = delete;
  PouchServer& operator=(const PouchServer&) = delete;

  // Starts the server and waits until `GET /` answers. The first start picks a free port
  // and writes the config file; later starts (a restart) keep both, and the data dir.
  // False (with the reason in error()) when the executable is missing or the server did
  // not come up within `timeout`.
  bool start(Millis timeout = Millis(30000));
  // SIGTERM, then SIGKILL if it has not exited within 5 s; waits for the exit.
  void stop();
  // SIGKILL and wait: open connections are cut without an answer.
  void kill();
  // stop() then start() on the same port and data dir.
  bool restart(Millis timeout = Millis(30000));
  bool running();

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // What went wrong in start().
  const std::string& error() const { return error_; }
  // The server's stdout and stderr (a crash's stack trace lands here), and its log file.
  std::string output() const { return read_file(output_path_); }
  std::string log() const { return read_file(log_path_); }
  const std::string& config_path() const { return config_path_; }
  // "name:password" of the admin, "" without one.
  std::string admin_credentials() const;

  // "Another writer": one blocking request to url() + `path` (a path with its query,
  // already percent-encoded: "/db/notes%2Fa?conflicts=true"), as the admin when there is
  // one. `body`, when given, is sent as JSON.
  HttpResult send(const std::string& method, const std::string& path,
                  std::optional<std::string> body = std::nullopt,
                  std::vector<std::string> headers = {}, Millis timeout = Millis(10000)) const;
  HttpResult get(const std::string& path) const { return send("GET", path); }
  HttpResult put(const std::string& path, const std::string& body) const {
    return send("PUT", path, body);
  }
  HttpResult post(const std::string& path, const std::string& body) const {
    return send("POST", path, body);
  }

 private:
  void write_config() const;

  PouchServerOptions options_;
  std::string work_dir_;     // the server's cwd: anything it writes there stays in the temp dir
  std::string data_dir_;     // -d, when not in memory
  std::string config_path_;  // -c; written once, then the server's own (it hashes admins)
  std::string log_path_;     // log/file in the config
  std::string output_path_;  // stdout and stderr
  int port_ = 0;             // picked at the first start, kept by restarts
  std::string error_;
  std::unique_ptr<Process> process_;
};

// A URL path segment percent-encoded as CouchDB wants ids in URLs: "notes/a" ->
// "notes%2Fa". Unreserved characters stay as they are.
std::string url_encode(const std::string& segment);

}  // namespace syncd::testing
