#pragma once
// A JSON-RPC error as sent to the client: the code, a message for people and a stable
// machine word in data.reason.
#include <stdexcept>
#include <string>

namespace syncd {

namespace rpc_code {
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;
constexpr int kStorage = -32000;  // the database failed (disk full, I/O error)
constexpr int kBusy = -32001;     // too many clients
constexpr int kForbidden = -32003;
constexpr int kNotFound = -32004;
}  // namespace rpc_code

class RpcError : public std::runtime_error {
 public:
  RpcError(int code, std::string reason, const std::string& message)
      : std::runtime_error(message), code_(code), reason_(std::move(reason)) {}
  int code() const { return code_; }
  const std::string& reason() const { return reason_; }

 private:
  int code_;
  std::string reason_;
};

inline RpcError invalid_params(const std::string& message) {
  return RpcError(rpc_code::kInvalidParams, "invalid_params", message);
}

}  // namespace syncd
