#pragma once
// Runs the real binaries for integration tests: syncd as a child process on a temp state
// dir, a blocking JSON-RPC client on its socket, and syncctl with captured output. Every
// wait has a deadline; nothing sleeps to synchronise.
#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/test_support.h"
#include "util/json.h"

namespace syncd::testing {

using Millis = std::chrono::milliseconds;

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition, Millis timeout);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);

class Process {
 public:
  // Starts argv[0] with `argv`; stdout and stderr go to the files given (or /dev/null).
  // `cwd`, when not empty, is its working directory. `passed_fd`, when not -1, is open in
  // it as fd 3 (as systemd passes a socket).
  Process(const std::vector<std::string>& argv, const std::string& stdout_path,
          const std::string& stderr_path, const std::map<std::string, std::string>& env = {},
          const std::string& cwd = "", int passed_fd = -1);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int signum);
  // The exit status (as from waitpid) once the process ended within `timeout`.
  std::optional<int> wait_exit(Millis timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

class Client {
 public:
  explicit Client(const std::string& socket_path);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send_raw(const std::string& bytes);
  // The next line, or nullopt on EOF, error or timeout.
  std::optional<std::string> read_line(Millis timeout = Millis(10000));
  // True once the peer has closed (EOF seen) within `timeout`, skipping any lines.
  bool wait_closed(Millis timeout);
  // Sends one request and returns the parsed answer (skipping notifications).
  JsonDocument call(const std::string& method, const std::string& params_json = "{}");
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  int next_id_ = 1;
  std::string buffer_;
};

// A syncd on its own temp state dir; stopped (SIGKILL if needed) when destroyed.
class Syncd {
 public:
  // `config_json` is written to <dir>/config.json and passed with --config when not empty.
  // `remote` defaults to a closed loopback port, so a test never syncs by accident.
  explicit Syncd(const TempDir& dir, const std::string& config_json = "",
                 std::vector<std::string> extra_args = {},
                 std::string remote = "http://127.0.0.1:1", std::string name = "");
  ~Syncd();

  // Starts the process and waits until its socket answers `status`. False on failure.
  bool start(Millis timeout = Millis(20000));
  // Starts the process without waiting for it.
  void launch();
  // From the next start on, syncd is socket-activated with `fd` (a listening socket the
  // test owns), as systemd passes syncd.socket's; -1: syncd binds socket() itself.
  void pass_socket(int fd) { passed_socket_ = fd; }
  // From the next start on, syncd's command line is `prefix` followed by its own (a
  // launcher that sets up something, then execs the rest).
  void run_under(std::vector<std::string> prefix) { prefix_ = std::move(prefix); }
  void kill9();
  // SIGTERM and wait; the exit status.
  std::optional<int> stop();
  std::string log() const { return read_file(log_path_); }
  const std::string& socket() const { return socket_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& config_path() const { return config_path_; }
  Process* process() { return process_.get(); }

 private:
  std::string state_dir_;
  std::string socket_;
  std::string config_path_;
  std::string log_path_;
  std::vector<std::string> extra_args_;
  std::string remote_;
  int passed_socket_ = -1;
  std::vector<std::string> prefix_;
  std::unique_ptr<Process> process_;
};

// A process's user+system CPU time in seconds, all its threads (0 when unknown).
double cpu_seconds(pid_t pid);

// The exit code of a wait status (Process::wait_exit, Syncd::stop); -1 when the process
// did not exit by itself (a signal, or no status).
int exit_code(std::optional<int> status);

// The fields of a /proc/.../stat file, numbered as proc(5) numbers them: field(n) is
// field n ("" when absent). The command (field 2) may hold spaces and parentheses.
class ProcStat {
 public:
  explicit ProcStat(const std::string& path);
  std::string field(size_t n) const;

 private:
  std::vector<std::string> from_third_;
};

// A process's resident set size in KiB (VmRSS), -1 when unknown.
long rss_kib(pid_t pid);
// Its peak resident set size since it started, in KiB (VmHWM), -1 when unknown.
long peak_rss_kib(pid_t pid);

// A loopback TCP port that was free a moment ago.
int free_port();

// Blocking HTTP for tests (libcurl easy), for a test acting as a client of a server.
struct TestHttpRequest {
  TestHttpRequest(std::string method_name, std::string target)
      : method(std::move(method_name)), url(std::move(target)) {}
  // Sent as application/json unless a Content-Type header says otherwise.
  TestHttpRequest& with_body(std::string text) {
    body = std::move(text);
    return *this;
  }
  TestHttpRequest& with_header(std::string line) {  // "Name: value"
    headers.push_back(std::move(line));
    return *this;
  }
  TestHttpRequest& with_basic_auth(std::string name_password) {  // "name:password"
    user_password = std::move(name_password);
    return *this;
  }
  TestHttpRequest& with_timeout(Millis limit) {
    timeout = limit;
    return *this;
  }

  std::string method;
  std::string url;
  std::optional<std::string> body;
  std::vector<std::string> headers;
  std::string user_password;       // "" for no auth
  Millis timeout = Millis(10000);  // the whole exchange; a request never waits longer
};
struct HttpResult {
  int status = 0;    // the status, or 0 when the request failed (timed out, cut, refused)
  std::string body;  // what arrived, also when the request then failed
  std::vector<std::string> headers;  // the answer's header lines, without CR LF
  int curl_code = 0;                 // CURLcode: 0, or why the request failed
  int status_seen = 0;               // the status line's code even when the request failed
  // The value of the first header `name` (case-insensitive), nullopt when absent.
  std::optional<std::string> header(const std::string& name) const;
};
HttpResult http_send(const TestHttpRequest& request);
HttpResult http_get(const std::string& url);
HttpResult http_post(const std::string& url, const std::string& body);

// The reference server (tests/refserver/refserver.py) on a free loopback port.
class RefServer {
 public:
  RefServer(const TempDir& dir, std::vector<std::string> extra_args = {});
  ~RefServer();
  bool start();
  void stop();
  // Listen on this port (before start); otherwise a free one is picked.
  void set_port(int port) { port_ = port; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Also serve https with this certificate (before start), requiring a client certificate
  // issued by `client_ca` when given; on `tls_port` when not 0. url() stays plain http,
  // for the test's own requests.
  void serve_tls(std::string cert, std::string key, std::string client_ca = "", int tls_port = 0);
  int tls_port() const { return tls_port_; }
  std::string tls_url() const { return "https://127.0.0.1:" + std::to_string(tls_port_); }
  std::string log() const { return read_file(log_path_); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // Answers every push 503 until reject() names what to refuse (to learn a mutation's id
  // before the server sees it). False when the server did not take it.
  bool hold_pushes() const;
  // Ends hold_pushes(): the mutations `ids` are answered "rejected" with `message`.
  bool reject(const std::vector<std::string>& ids, const std::string& message) const;

 private:
  std::string port_file_;
  std::string log_path_;
  std::string db_path_;
  std::vector<std::string> extra_args_;
  int port_ = 0;
  std::vector<std::string> tls_args_;
  std::string tls_port_file_;
  int tls_port_ = 0;
  std::unique_ptr<Process> process_;
};

// Starts a Python test server (`argv` after the interpreter) that writes its port to
// `port_file` once it listens; the port, or 0 when it did not come up.
int start_python_server(std::unique_ptr<Process>& process, std::vector<std::string> argv,
                        const std::string& port_file, const std::string& log_path);
// Sends one line on a line-oriented Unix control socket; its answer line, "" on failure.
std::string control_command(const std::string& socket_path, const std::string& line);

// The fault proxy (tests/faultproxy/faultproxy.py) in front of `upstream_port`.
class FaultProxy {
 public:
  FaultProxy(const TempDir& dir, int upstream_port);
  ~FaultProxy();
  bool start();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Sends one control command ("refuse", "pass", "cut", ...); returns its answer line.
  std::string command(const std::string& line);

 private:
  std::string port_file_;
  std::string control_path_;
  std::string log_path_;
  int upstream_port_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          Millis timeout = Millis(30000));

// $SYNCD_TEST_BIN runs the tests against another build of syncd (an older one, to see a
// test fail on the code it was written against).
inline std::string syncd_bin() {
  const char* other = std::getenv("SYNCD_TEST_BIN");
  return other && *other ? other : SYNCD_BIN;
}
inline std::string source_dir() { return SYNCD_SOURCE_DIR; }
inline std::string syncctl_bin() { return SYNCCTL_BIN; }
inline std::string seccomp_launcher_bin() { return SECCOMP_LAUNCHER_BIN; }

}  // namespace syncd::testing
