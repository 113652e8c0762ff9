#pragma once
// syncctl's side of the socket: find it, connect, send one request, read lines back.
// Blocking I/O; syncctl does one thing and exits.
#include <optional>
#include <string>

#include "util/json.h"

namespace syncd {

// The socket path by DESIGN.md's lookup order: the flag, $SYNCD_SOCKET,
// $XDG_RUNTIME_DIR/syncd/syncd.sock or /run/syncd/syncd.sock when present,
// then ./.syncd/syncd.sock.
std::string find_socket(const std::optional<std::string>& flag);

class RpcClient {
 public:
  RpcClient() = default;
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Returns an error message when the daemon cannot be reached.
  std::optional<std::string> connect(const std::string& path, int timeout_s);
  // Sends {"jsonrpc":"2.0","id":1,"method":...,"params":...} and reads its answer.
  // Returns an error message when the connection fails (not for RPC errors).
  std::optional<std::string> call(const std::string& method, const JsonValue& params,
                                  JsonDocument& response);
  // Reads the next line (notifications while watching). nullopt with `error` set on EOF.
  std::optional<std::string> read_line(std::string& error, bool wait_forever);

 private:
  int fd_ = -1;
  int timeout_s_ = 30;
  std::string buffer_;
};

}  // namespace syncd
