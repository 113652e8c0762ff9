#pragma once
// JSON-RPC 2.0 framing rules for one frame (one line): parse, single request or batch,
// notifications (no id, no answer), and the error shapes with data.reason. The methods
// themselves are in Methods.
#include <string>
#include <string_view>
#include <vector>

#include "daemon/methods.h"
#include "daemon/metrics.h"

namespace syncd {

struct HandledFrame {
  std::string response;          // the answer line without "\n"; empty when none is due
  std::vector<std::string> ids;  // ids (as JSON) of the requests that expect an answer
  bool batch = false;
  bool storage_failed = false;  // a storage error happened (the frame's answer says so)
  std::string storage_error;
};

class RpcHandler {
 public:
  RpcHandler(Methods& methods, Metrics& metrics) : methods_(methods), metrics_(metrics) {}

  HandledFrame handle_frame(std::string_view frame, CallContext& ctx);

  // Error answers for every request of `frame`, used when its turn failed to commit.
  static std::string failure_response(const HandledFrame& frame, int code,
                                      const std::string& reason, const std::string& message);
  // A standalone error line with id null (parse errors, oversize frames, refusals).
  static std::string error_line(int code, const std::string& reason, const std::string& message);

 private:
  // Handles one request object; appends its answer to `out` (unless a notification).
  bool handle_request(const JsonValue& request, CallContext& ctx, HandledFrame& frame,
                      JsonValue& out, JsonAllocator& alloc);

  Methods& methods_;
  Metrics& metrics_;
};

}  // namespace syncd
