#include "daemon/rpc_handler.h"

#include <algorithm>

#include "daemon/rpc_error.h"
#include "store/sqlite.h"

namespace syncd {
namespace {

// Frames longer than this are parsed where a batch of them can be kept across turns.
constexpr size_t kKeepParsedBytes = 64 << 10;

void set_error(JsonValue& out, const JsonValue& id, int code, const std::string& reason,
               const std::string& message, JsonAllocator& alloc) {
  out.SetObject();
  out.AddMember("jsonrpc", "2.0", alloc);
  out.AddMember("id", JsonValue(id, alloc), alloc);
  JsonValue error(rapidjson::kObjectType);
  error.AddMember("code", code, alloc);
  error.AddMember("message", json_string(message, alloc), alloc);
  JsonValue data(rapidjson::kObjectType);
  data.AddMember("reason", json_string(reason, alloc), alloc);
  error.AddMember("data", data, alloc);
  out.AddMember("error", error, alloc);
}

bool valid_id(const JsonValue& id) { return id.IsString() || id.IsNumber() || id.IsNull(); }

}  // namespace

std::string RpcHandler::error_line(int code, const std::string& reason,
                                   const std::string& message) {
  JsonDocument doc;
  set_error(doc, JsonValue(rapidjson::kNullType), code, reason, message, doc.GetAllocator());
  return to_json(doc);
}

std::string RpcHandler::failure_response(const HandledFrame& frame, int code,
                                         const std::string& reason, const std::string& message) {
  if (frame.ids.empty()) return {};
  JsonDocument doc;
  auto& alloc = doc.GetAllocator();
  JsonValue array(rapidjson::kArrayType);
  for (const auto& id_text : frame.ids) {
    JsonDocument id;
    id.Parse(id_text.data(), id_text.size());
    JsonValue item;
    set_error(item, id, code, reason, message, alloc);
    array.PushBack(item, alloc);
  }
  if (frame.batch) return to_json(array);
  return to_json(array[0]);
}

HandledFrame RpcHandler::handle_frame(std::string_view frame, CallContext& ctx, size_t slice,
                                      std::unique_ptr<BatchInProgress>* rest) {
  HandledFrame handled;
  // A typical frame fits in these; without them each document took a 64 KiB pool chunk
  // from malloc and gave it back (about 5 % of the write path's CPU time). The parse
  // stack starts below glibc's large-request size, which would consolidate its free
  // lists on every request; it grows for deep documents.
  char request_space[4096];
  char answer_space[2048];
  rapidjson::MemoryPoolAllocator<> request_pool(request_space, sizeof request_space);
  rapidjson::MemoryPoolAllocator<> answer_pool(answer_space, sizeof answer_space);
  JsonDocument on_stack(&request_pool, 512);
  // A large frame is parsed into a document that may outlive this call, so that a
  // batch worked over several turns needs no copy (16 MB of puts: 90-120 ms to parse,
  // 30-60 ms more to copy).
  auto kept = rest != nullptr && frame.size() > kKeepParsedBytes
                  ? std::make_unique<BatchInProgress>()
                  : nullptr;
  JsonDocument& request = kept ? kept->requests : on_stack;
  if (auto error = parse_json(frame, request)) {
    ++metrics_.request_errors;
    handled.response = error_line(rpc_code::kParseError, "invalid_json", *error);
    handled.ids.push_back("null");
    return handled;
  }
  JsonDocument answer(&answer_pool);
  auto& alloc = answer.GetAllocator();
  if (request.IsArray()) {
    handled.batch = true;
    if (request.Empty()) {
      ++metrics_.request_errors;
      handled.batch = false;
      handled.response = error_line(rpc_code::kInvalidRequest, "invalid_request", "empty batch");
      handled.ids.push_back("null");
      return handled;
    }
    if (request.Size() > max_batch_) {
      ++metrics_.request_errors;
      handled.batch = false;
      handled.response = error_line(rpc_code::kInvalidRequest, "too_large",
                                    "a batch of " + std::to_string(request.Size()) +
                                        " requests exceeds ipc.max_batch (" +
                                        std::to_string(max_batch_) + "); nothing of it was done");
      handled.ids.push_back("null");
      return handled;
    }
    const size_t end = rest == nullptr ? request.Size() : std::min<size_t>(request.Size(), slice);
    if (end < request.Size() && kept) {
      kept->next = end;
      *rest = std::move(kept);  // the document stays where it is
    } else if (end < request.Size()) {
      *rest = std::make_unique<BatchInProgress>();
      JsonDocument& left = (*rest)->requests;
      left.SetArray();
      left.Reserve(request.Size() - static_cast<unsigned>(end), left.GetAllocator());
      for (size_t i = end; i < request.Size(); ++i) {
        left.PushBack(JsonValue(request[static_cast<unsigned>(i)], left.GetAllocator()),
                      left.GetAllocator());
      }
    }
    handle_items(request, 0, end, ctx, handled);
    return handled;
  }
  if (handle_request(request, ctx, handled, answer, alloc)) handled.response = to_json(answer);
  return handled;
}

HandledFrame RpcHandler::continue_batch(BatchInProgress& batch, CallContext& ctx, size_t slice) {
  HandledFrame handled;
  const size_t end = std::min<size_t>(batch.requests.Size(), batch.next + slice);
  handle_items(batch.requests, batch.next, end, ctx, handled);
  batch.next = end;
  return handled;
}

void RpcHandler::handle_items(const JsonValue& batch, size_t from, size_t to, CallContext& ctx,
                              HandledFrame& frame) {
  char answer_space[2048];
  rapidjson::MemoryPoolAllocator<> answer_pool(answer_space, sizeof answer_space);
  JsonDocument answer(&answer_pool);
  answer.SetArray();
  for (size_t i = from; i < to; ++i) {
    JsonValue out;
    if (handle_request(batch[static_cast<unsigned>(i)], ctx, frame, out, answer.GetAllocator())) {
      answer.PushBack(out, answer.GetAllocator());
    }
  }
  frame.batch = true;
  frame.requests = to - from;
  if (!answer.Empty()) frame.response = to_json(answer);
}

bool RpcHandler::handle_request(const JsonValue& request, CallContext& ctx, HandledFrame& frame,
                                JsonValue& out, JsonAllocator& alloc) {
  ++metrics_.requests;
  const JsonValue null_id(rapidjson::kNullType);
  auto fail = [&](const JsonValue& id, int code, const std::string& reason,
                  const std::string& message) {
    ++metrics_.request_errors;
    set_error(out, id, code, reason, message, alloc);
    frame.ids.push_back(to_json(id));
    return true;
  };
  if (!request.IsObject()) {
    return fail(null_id, rpc_code::kInvalidRequest, "invalid_request",
                std::string("a request must be an object, got ") + json_type_name(request));
  }
  auto id_it = request.FindMember("id");
  const bool notification = id_it == request.MemberEnd();
  const JsonValue& id = notification ? null_id : id_it->value;
  if (!valid_id(id)) {
    return fail(null_id, rpc_code::kInvalidRequest, "invalid_request",
                "id must be a string, a number or null");
  }
  auto version = request.FindMember("jsonrpc");
  if (version == request.MemberEnd() || !version->value.IsString() ||
      std::string_view(version->value.GetString()) != "2.0") {
    return fail(id, rpc_code::kInvalidRequest, "invalid_request", "jsonrpc must be \"2.0\"");
  }
  auto method = request.FindMember("method");
  if (method == request.MemberEnd() || !method->value.IsString()) {
    return fail(id, rpc_code::kInvalidRequest, "invalid_request", "method must be a string");
  }
  auto params_it = request.FindMember("params");
  const JsonValue& params = params_it == request.MemberEnd() ? null_id : params_it->value;

  JsonValue result;
  try {
    methods_.call(std::string_view(method->value.GetString(), method->value.GetStringLength()),
                  params, ctx, result, alloc);
  } catch (const RpcError& e) {
    if (notification) {
      ++metrics_.request_errors;
      return false;
    }
    return fail(id, e.code(), e.reason(), e.what());
  } catch (const WriteRejected& e) {
    if (notification) {
      ++metrics_.request_errors;
      return false;
    }
    int code = e.reason() == "not_found" ? rpc_code::kNotFound : rpc_code::kInvalidParams;
    return fail(id, code, e.reason(), e.what());
  } catch (const SqliteError& e) {
    ++metrics_.storage_errors;
    frame.storage_failed = true;
    frame.storage_error = e.what();
    if (notification) return false;
    return fail(id, rpc_code::kStorage, e.is_full() ? "storage_full" : "storage_error", e.what());
  } catch (const std::exception& e) {
    if (notification) {
      ++metrics_.request_errors;
      return false;
    }
    return fail(id, rpc_code::kInternalError, "internal_error", e.what());
  }
  if (notification) return false;
  out.SetObject();
  out.AddMember("jsonrpc", "2.0", alloc);
  out.AddMember("id", JsonValue(id, alloc), alloc);
  out.AddMember("result", result, alloc);
  frame.ids.push_back(to_json(id));
  return true;
}

}  // namespace syncd
