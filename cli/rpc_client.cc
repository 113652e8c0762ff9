#include "cli/rpc_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace syncd {
namespace {
bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}
}  // namespace

std::string find_socket(const std::optional<std::string>& flag) {
  if (flag) return *flag;
  if (const char* env = std::getenv("SYNCD_SOCKET"); env && *env) return env;
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime) {
    std::string path = std::string(runtime) + "/syncd/syncd.sock";
    if (exists(path)) return path;
  }
  if (exists("/run/syncd/syncd.sock")) return "/run/syncd/syncd.sock";
  return "./.syncd/syncd.sock";
}

RpcClient::~RpcClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string> RpcClient::connect(const std::string& path, int timeout_s) {
  timeout_s_ = timeout_s;
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return "socket path too long: " + path;
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return "cannot connect to " + path + ": " + std::strerror(errno) +
           " (is syncd running? see --socket and $SYNCD_SOCKET)";
  }
  return std::nullopt;
}

std::optional<std::string> RpcClient::call(const std::string& method, const JsonValue& params,
                                           JsonDocument& response) {
  JsonDocument request;
  auto& alloc = request.GetAllocator();
  request.SetObject();
  request.AddMember("jsonrpc", "2.0", alloc);
  request.AddMember("id", 1, alloc);
  request.AddMember("method", json_string(method, alloc), alloc);
  if (!params.IsNull()) request.AddMember("params", JsonValue(params, alloc), alloc);
  std::string line = to_json(request) + "\n";
  for (size_t sent = 0; sent < line.size();) {
    ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string send_error = std::string("cannot send to syncd: ") + std::strerror(errno);
      // syncd refuses a connection (too many clients, a uid not allowed) with an error
      // line and closes it, maybe before reading the request: that line says why.
      std::string ignored;
      std::optional<std::string> refusal = read_line(ignored, false);
      if (refusal && !parse_json(*refusal, response) && response.IsObject() &&
          response.HasMember("error")) {
        return std::nullopt;
      }
      return send_error;
    }
    sent += static_cast<size_t>(n);
  }
  // Skip notifications (no id) that may precede the answer.
  while (true) {
    std::string error;
    std::optional<std::string> answer = read_line(error, false);
    if (!answer) return error;
    if (auto parse_error = parse_json(*answer, response)) {
      return "syncd sent an answer that is not JSON: " + *parse_error;
    }
    if (response.IsObject() && response.HasMember("id")) return std::nullopt;
  }
}

std::optional<std::string> RpcClient::read_line(std::string& error, bool wait_forever) {
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    pollfd pfd{fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, wait_forever ? -1 : timeout_s_ * 1000);
    if (ready < 0) {
      if (errno == EINTR) {
        error = "interrupted";
        return std::nullopt;
      }
      error = std::string("poll: ") + std::strerror(errno);
      return std::nullopt;
    }
    if (ready == 0) {
      error = "no answer from syncd in " + std::to_string(timeout_s_) + " s";
      return std::nullopt;
    }
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n == 0 ? "syncd closed the connection" : std::string("recv: ") + std::strerror(errno);
      return std::nullopt;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace syncd
