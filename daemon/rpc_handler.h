#pragma once
// JSON-RPC 2.0 framing rules for one frame (one line): parse, single request or batch,
// notifications (no id, no answer), and the error shapes with data.reason. The methods
// themselves are in Methods. Before a method runs, its params are checked as a whole:
// no value nested deeper than the document depth limit, no object with a key twice; so
// a method never walks a value from outside that is deep enough to matter.
// handle_frame is the entry point for fuzzing the dispatcher (with Methods over a test
// database, as tests/daemon/rpc_handler_test.cc sets them up).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/methods.h"
#include "daemon/metrics.h"
#include "daemon/rpc_error.h"

namespace syncd {

struct HandledFrame {
  std::string response;          // the answer line without "\n"; empty when none is due
  std::vector<std::string> ids;  // ids, as the client wrote them, of the requests answered
  bool batch = false;
  size_t requests = 1;          // requests handled (the batch items of this slice)
  bool storage_failed = false;  // a storage error happened (the frame's answer says so)
  std::string storage_error;
};

// A batch handled over several calls (IpcServer works one slice per loop turn): its
// requests not handled yet, parsed once, with their ids as the client wrote them.
struct BatchInProgress {
  JsonDocument requests;             // an array
  std::vector<std::string> raw_ids;  // raw_ids[i] for requests[i]
  size_t next = 0;                   // the first not handled
  bool done() const { return next >= requests.Size(); }
};

class RpcHandler {
 public:
  // `max_document_depth`: store.max_document_depth, the deepest a params value may nest.
  RpcHandler(Methods& methods, Metrics& metrics, unsigned max_document_depth)
      : methods_(methods), metrics_(metrics), max_document_depth_(max_document_depth) {}

  // A batch of more than `max_batch` requests is refused whole (-32600 too_large).
  void set_max_batch(size_t max_batch) { max_batch_ = max_batch; }

  // Handles a frame. Of a batch of more than `slice` requests only the first `slice`
  // are handled; the rest goes to `*rest` (which must then be given) for
  // continue_batch, and `response` holds this slice's answers as an array.
  HandledFrame handle_frame(std::string_view frame, CallContext& ctx, size_t slice = SIZE_MAX,
                            std::unique_ptr<BatchInProgress>* rest = nullptr);
  // Handles the next `slice` requests of `batch`; `response` is their answers as an
  // array (empty when all were notifications).
  HandledFrame continue_batch(BatchInProgress& batch, CallContext& ctx, size_t slice);

  // Error answers for every request of `frame`, used when its turn failed to commit.
  static std::string failure_response(const HandledFrame& frame, int code,
                                      const std::string& reason, const std::string& message);
  // A standalone error line with id null (parse errors, oversize frames, refusals).
  static std::string error_line(int code, const std::string& reason, const std::string& message);

 private:
  using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

  // Handles one request object; writes its answer to `out` unless it is a notification.
  // `raw_id`: the id's text in the frame (empty when the id is absent or not a scalar).
  bool handle_request(const JsonValue& request, std::string_view raw_id, CallContext& ctx,
                      HandledFrame& frame, Writer& out, JsonAllocator& alloc);
  // Handles requests [from, to) of `batch` into `frame` (batch, requests, response).
  void handle_items(const JsonValue& batch, const std::vector<std::string_view>& raw_ids,
                    size_t from, size_t to, CallContext& ctx, HandledFrame& frame);
  // The error for params that no method may see, or nullopt.
  std::optional<RpcError> check_params(const JsonValue& params) const;

  Methods& methods_;
  Metrics& metrics_;
  const unsigned max_document_depth_;
  size_t max_batch_ = SIZE_MAX;
};

}  // namespace syncd
