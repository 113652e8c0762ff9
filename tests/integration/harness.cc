#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

extern char** environ;

namespace syncd::testing {

bool wait_until(const std::function<bool()>& condition, Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Millis(5));  // poll interval, not a synchronisation
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

namespace {
std::vector<char*> c_strings(std::vector<std::string>& items) {
  std::vector<char*> out;
  for (auto& s : items) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> environment_with(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (!extra.count(name)) env.push_back(entry);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

void redirect(const std::string& path, int target) {
  int fd = ::open(path.empty() ? "/dev/null" : path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ::dup2(fd, target);
    ::close(fd);
  }
}
}  // namespace

Process::Process(const std::vector<std::string>& argv, const std::string& stdout_path,
                 const std::string& stderr_path, const std::map<std::string, std::string>& env,
                 const std::string& cwd, int passed_fd) {
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = environment_with(env);
  auto c_args = c_strings(args);
  auto c_env = c_strings(envs);
  pid_ = ::fork();
  if (pid_ == 0) {
    // Dies with the test (a test killed by ctest's timeout leaves no daemon behind).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    redirect(stdout_path, STDOUT_FILENO);
    redirect(stderr_path, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) _exit(126);
    if (passed_fd == 3) {
      ::fcntl(3, F_SETFD, 0);
    } else if (passed_fd >= 0 && ::dup2(passed_fd, 3) != 3) {
      _exit(125);
    }
    ::execve(c_args[0], c_args.data(), c_env.data());
    _exit(127);
  }
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait_exit(Millis(10000));
  }
}

void Process::signal(int signum) {
  if (!status_) ::kill(pid_, signum);
}

bool Process::running() {
  if (status_ || pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = status;
    return false;
  }
  return true;
}

std::optional<int> Process::wait_exit(Millis timeout) {
  wait_until([this] { return !running(); }, timeout);
  return status_;
}

Client::Client(const std::string& socket_path) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

bool Client::send_raw(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::optional<std::string> Client::read_line(Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

bool Client::wait_closed(Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return true;
  }
  return false;
}

JsonDocument Client::call(const std::string& method, const std::string& params_json) {
  int id = next_id_++;
  std::string frame = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method +
                      R"(","params":)" + params_json + "}\n";
  JsonDocument answer;
  if (!send_raw(frame)) return answer;
  while (auto line = read_line()) {
    JsonDocument doc;
    if (parse_json(*line, doc)) continue;
    if (doc.IsObject() && doc.HasMember("id") && doc["id"].IsInt() && doc["id"].GetInt() == id) {
      return doc;
    }
  }
  return answer;  // null: no answer
}

Syncd::Syncd(const TempDir& dir, const std::string& config_json,
             std::vector<std::string> extra_args, std::string remote, std::string name)
    : state_dir_(dir.file(name + "state")),
      socket_(dir.file(name + "syncd.sock")),
      log_path_(dir.file(name + "syncd.log")),
      extra_args_(std::move(extra_args)),
      remote_(std::move(remote)) {
  if (!config_json.empty()) {
    config_path_ = dir.file(name + "config.json");
    write_file(config_path_, config_json);
    ::chmod(config_path_.c_str(), 0600);  // it may hold an inline secret
  }
}

Syncd::~Syncd() {
  if (process_ && process_->running()) stop();
}

void Syncd::launch() {
  std::vector<std::string> argv = {syncd_bin(), "--state-dir", state_dir_, "--socket",
                                   socket_,     "--remote",    remote_};
  if (!config_path_.empty()) {
    argv.push_back("--config");
    argv.push_back(config_path_);
  }
  for (const auto& a : extra_args_) argv.push_back(a);
  if (passed_socket_ >= 0) {
    // As systemd does it: fd 3, LISTEN_FDS=1 and LISTEN_PID the pid that syncd will have.
    argv.insert(argv.begin(), {"/bin/sh", "-c", R"(LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@")"});
  }
  argv.insert(argv.begin(), prefix_.begin(), prefix_.end());
  process_ = std::make_unique<Process>(argv, log_path_, log_path_,
                                       std::map<std::string, std::string>{}, "", passed_socket_);
}

bool Syncd::start(Millis timeout) {
  launch();
  // A sanitizer build under load (CI runs two tests at a time, PouchDB Server among
  // them) takes its time to replay a journal: the deadline only ends a failing wait.
  timeout = Millis(static_cast<int64_t>(static_cast<double>(timeout.count()) * kSlowBuild));
  return wait_until(
             [this] {
               if (!process_->running()) return true;
               Client probe(socket_);
               if (!probe.connected()) return false;
               // Null when syncd closed the connection unanswered (a start it then refused).
               const JsonDocument status = probe.call("status");
               return status.IsObject() && status.HasMember("result");
             },
             timeout) &&
         process_->running();
}

void Syncd::kill9() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait_exit(Millis(60000));
}

std::optional<int> Syncd::stop() {
  if (!process_) return std::nullopt;
  process_->signal(SIGTERM);
  auto status = process_->wait_exit(Millis(20000));
  if (!status) kill9();
  return status;
}

namespace {
size_t append_body(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

size_t append_header(char* data, size_t size, size_t count, void* out) {
  std::string line(data, size * count);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  auto* headers = static_cast<std::vector<std::string>*>(out);
  // A new status line (after a 100 Continue or a redirect) starts a new header block.
  if (line.rfind("HTTP/", 0) == 0) headers->clear();
  if (!line.empty()) headers->push_back(line);
  return size * count;
}

bool same_name(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}
}  // namespace

std::optional<std::string> HttpResult::header(const std::string& name) const {
  for (const std::string& line : headers) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || !same_name(line.substr(0, colon), name)) continue;
    const auto start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return std::nullopt;
}

HttpResult http_send(const TestHttpRequest& request) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  curl_slist* headers = nullptr;
  bool has_type = false;
  for (const std::string& h : request.headers) {
    headers = curl_slist_append(headers, h.c_str());
    if (same_name(h.substr(0, h.find(':')), "Content-Type")) has_type = true;
  }
  if (request.body) {
    if (!has_type) headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body->size()));
  }
  if (headers) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!request.user_password.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERPWD, request.user_password.c_str());
  }
  const CURLcode code = curl_easy_perform(curl);
  result.curl_code = static_cast<int>(code);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  result.status_seen = static_cast<int>(status);
  if (code == CURLE_OK) result.status = result.status_seen;
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return result;
}

ProcStat::ProcStat(const std::string& path) {
  const std::string text = read_file(path);
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 > text.size()) return;
  std::istringstream fields(text.substr(close + 2));
  from_third_.assign(std::istream_iterator<std::string>(fields), {});
}

std::string ProcStat::field(size_t n) const {
  return n >= 3 && n - 3 < from_third_.size() ? from_third_[n - 3] : "";
}

int exit_code(std::optional<int> status) {
  return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

double cpu_seconds(pid_t pid) {
  ProcStat stat("/proc/" + std::to_string(pid) + "/stat");
  const std::string utime = stat.field(14), stime = stat.field(15);
  if (utime.empty() || stime.empty()) return 0;
  return (std::stod(utime) + std::stod(stime)) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

namespace {
long status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  }
  return -1;
}
}  // namespace

long rss_kib(pid_t pid) { return status_kib(pid, "VmRSS:"); }
long peak_rss_kib(pid_t pid) { return status_kib(pid, "VmHWM:"); }

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

HttpResult http_get(const std::string& url) { return http_send(TestHttpRequest("GET", url)); }
HttpResult http_post(const std::string& url, const std::string& body) {
  return http_send(TestHttpRequest("POST", url).with_body(body));
}

namespace {
int read_port(const std::string& path) {
  std::string text = read_file(path);
  return text.empty() ? 0 : std::atoi(text.c_str());
}
}  // namespace

int start_python_server(std::unique_ptr<Process>& process, std::vector<std::string> argv,
                        const std::string& port_file, const std::string& log_path) {
  ::unlink(port_file.c_str());
  argv.insert(argv.begin(), "/usr/bin/python3");
  process = std::make_unique<Process>(argv, log_path, log_path);
  bool up =
      wait_until([&] { return read_port(port_file) > 0 || !process->running(); }, Millis(20000));
  return up && process->running() ? read_port(port_file) : 0;
}

std::string control_command(const std::string& socket_path, const std::string& line) {
  Client control(socket_path);
  if (!control.connected() || !control.send_raw(line + "\n")) return "";
  return control.read_line(Millis(10000)).value_or("");
}

RefServer::RefServer(const TempDir& dir, std::vector<std::string> extra_args)
    : port_file_(dir.file("refserver.port")),
      log_path_(dir.file("refserver.log")),
      db_path_(dir.file("refserver.db")),
      extra_args_(std::move(extra_args)) {}

RefServer::~RefServer() { stop(); }

bool RefServer::hold_pushes() const {
  return http_post(url() + "/admin/faults",
                   R"({"status": 503, "count": 1000000, "path": "/v1/push"})")
             .status == 200;
}

bool RefServer::reject(const std::vector<std::string>& ids, const std::string& message) const {
  std::string rejected;
  for (const std::string& id : ids) {
    rejected += (rejected.empty() ? "" : ",") + json_quote(id) + ":" + json_quote(message);
  }
  return http_post(url() + "/admin/faults",
                   R"({"status": 503, "count": 0, "reject": {)" + rejected + "}}")
             .status == 200;
}

bool RefServer::start() {
  std::vector<std::string> argv = {source_dir() + "/tests/refserver/refserver.py",
                                   "--port",
                                   port_ ? std::to_string(port_) : "0",
                                   "--db",
                                   db_path_,
                                   "--port-file",
                                   port_file_};
  for (const auto& a : extra_args_) argv.push_back(a);
  for (const auto& a : tls_args_) argv.push_back(a);
  if (!tls_args_.empty()) ::unlink(tls_port_file_.c_str());
  port_ = start_python_server(process_, argv, port_file_, log_path_);
  // The server writes the TLS port before the plain one.
  if (port_ > 0 && !tls_args_.empty()) tls_port_ = read_port(tls_port_file_);
  return port_ > 0 && (tls_args_.empty() || tls_port_ > 0);
}

void RefServer::serve_tls(std::string cert, std::string key, std::string client_ca, int tls_port) {
  tls_port_file_ = port_file_ + ".tls";
  tls_args_ = {"--tls-cert", std::move(cert),          "--tls-key",       std::move(key),
               "--tls-port", std::to_string(tls_port), "--tls-port-file", tls_port_file_};
  if (!client_ca.empty()) {
    tls_args_.push_back("--tls-client-ca");
    tls_args_.push_back(std::move(client_ca));
  }
}

void RefServer::stop() {
  if (process_ && process_->running()) {
    process_->signal(SIGTERM);
    if (!process_->wait_exit(Millis(5000))) process_->signal(SIGKILL);
    process_->wait_exit(Millis(5000));
  }
}

FaultProxy::FaultProxy(const TempDir& dir, int upstream_port)
    : port_file_(dir.file("faultproxy.port")),
      control_path_(dir.file("faultproxy.ctl")),
      log_path_(dir.file("faultproxy.log")),
      upstream_port_(upstream_port) {}

FaultProxy::~FaultProxy() {
  if (process_ && process_->running()) process_->signal(SIGKILL);
}

bool FaultProxy::start() {
  port_ = start_python_server(
      process_,
      {source_dir() + "/tests/faultproxy/faultproxy.py", "--upstream",
       std::to_string(upstream_port_), "--port-file", port_file_, "--control", control_path_},
      port_file_, log_path_);
  return port_ > 0;
}

std::string FaultProxy::command(const std::string& line) {
  return control_command(control_path_, line);
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env, Millis timeout) {
  TempDir dir;
  CommandResult result;
  {
    Process p(argv, dir.file("out"), dir.file("err"), env);
    auto status = p.wait_exit(timeout);
    if (status && WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  }
  result.out = read_file(dir.file("out"));
  result.err = read_file(dir.file("err"));
  return result;
}

}  // namespace syncd::testing
