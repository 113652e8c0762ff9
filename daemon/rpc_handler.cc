#include "daemon/rpc_handler.h"

#include <algorithm>

#include "daemon/rpc_frame.h"
#include "store/sqlite.h"

namespace syncd {
namespace {

// A request nests in a batch (1), the request object (1) and params (1) around a
// document: the frame may nest that much deeper than a document.
constexpr unsigned kFrameEnvelopeDepth = 3;
constexpr std::string_view kNullId = "null";
// Frames longer than this are parsed where a batch of them can be kept across turns.
constexpr size_t kKeepParsedBytes = 64 << 10;

void write_string(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// {"jsonrpc":"2.0","id":<raw_id>, then the caller's member, then "}".
void begin_answer(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view raw_id) {
  w.StartObject();
  w.Key("jsonrpc");
  w.String("2.0");
  w.Key("id");
  w.RawValue(raw_id.data(), raw_id.size(), rapidjson::kNumberType);
}

void write_error(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view raw_id, int code,
                 std::string_view reason, std::string_view message) {
  begin_answer(w, raw_id);
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.Int(code);
  w.Key("message");
  write_string(w, message);
  w.Key("data");
  w.StartObject();
  w.Key("reason");
  write_string(w, reason);
  w.EndObject();
  w.EndObject();
  w.EndObject();
}

bool valid_id(const JsonValue& id) { return id.IsString() || id.IsNumber() || id.IsNull(); }

}  // namespace

std::string RpcHandler::error_line(int code, const std::string& reason,
                                   const std::string& message) {
  rapidjson::StringBuffer out;
  Writer w(out);
  write_error(w, kNullId, code, reason, message);
  return std::string(out.GetString(), out.GetSize());
}

std::string RpcHandler::failure_response(const HandledFrame& frame, int code,
                                         const std::string& reason, const std::string& message) {
  if (frame.ids.empty()) return {};
  rapidjson::StringBuffer out;
  Writer w(out);
  if (frame.batch) out.Put('[');
  for (size_t i = 0; i < frame.ids.size(); ++i) {
    if (i > 0) out.Put(',');
    w.Reset(out);
    write_error(w, frame.ids[i], code, reason, message);
    if (!frame.batch) break;
  }
  if (frame.batch) out.Put(']');
  return std::string(out.GetString(), out.GetSize());
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
  std::vector<std::string_view> raw_ids;
  if (auto error =
          decode_frame(frame, max_document_depth_ + kFrameEnvelopeDepth, request, raw_ids)) {
    ++metrics_.request_errors;
    handled.response = error_line(rpc_code::kParseError, "invalid_json", *error);
    handled.ids.emplace_back(kNullId);
    return handled;
  }
  if (request.IsArray()) {
    if (request.Empty()) {
      ++metrics_.request_errors;
      handled.response = error_line(rpc_code::kInvalidRequest, "invalid_request", "empty batch");
      handled.ids.emplace_back(kNullId);
      return handled;
    }
    if (request.Size() > max_batch_) {
      ++metrics_.request_errors;
      handled.response = error_line(rpc_code::kInvalidRequest, "too_large",
                                    "a batch of " + std::to_string(request.Size()) +
                                        " requests exceeds ipc.max_batch (" +
                                        std::to_string(max_batch_) + "); nothing of it was done");
      handled.ids.emplace_back(kNullId);
      return handled;
    }
    const size_t end = rest == nullptr ? request.Size() : std::min<size_t>(request.Size(), slice);
    if (end < request.Size()) {
      // The rest is kept with its ids as text (the frame they point into goes away).
      std::unique_ptr<BatchInProgress> left = kept ? std::move(kept) : nullptr;
      const size_t first = left ? 0 : end;
      if (left) {
        left->next = end;  // the document stays where it is
      } else {
        left = std::make_unique<BatchInProgress>();
        JsonDocument& items = left->requests;
        items.SetArray();
        items.Reserve(request.Size() - static_cast<unsigned>(end), items.GetAllocator());
        for (size_t i = end; i < request.Size(); ++i) {
          items.PushBack(JsonValue(request[static_cast<unsigned>(i)], items.GetAllocator()),
                         items.GetAllocator());
        }
      }
      left->raw_ids.assign(raw_ids.begin() + static_cast<long>(first), raw_ids.end());
      *rest = std::move(left);
    }
    handle_items(request, raw_ids, 0, end, ctx, handled);
    return handled;
  }
  JsonDocument answer(&answer_pool);
  rapidjson::StringBuffer out;
  Writer w(out);
  if (handle_request(request, raw_ids.empty() ? std::string_view() : raw_ids[0], ctx, handled, w,
                     answer.GetAllocator())) {
    handled.response.assign(out.GetString(), out.GetSize());
  }
  return handled;
}

HandledFrame RpcHandler::continue_batch(BatchInProgress& batch, CallContext& ctx, size_t slice) {
  HandledFrame handled;
  const size_t end = std::min<size_t>(batch.requests.Size(), batch.next + slice);
  std::vector<std::string_view> raw_ids(batch.raw_ids.begin(), batch.raw_ids.end());
  handle_items(batch.requests, raw_ids, batch.next, end, ctx, handled);
  batch.next = end;
  return handled;
}

void RpcHandler::handle_items(const JsonValue& batch, const std::vector<std::string_view>& raw_ids,
                              size_t from, size_t to, CallContext& ctx, HandledFrame& frame) {
  char answer_space[2048];
  rapidjson::MemoryPoolAllocator<> answer_pool(answer_space, sizeof answer_space);
  JsonDocument answer(&answer_pool);
  rapidjson::StringBuffer out;
  Writer w(out);
  bool answered = false;
  for (size_t i = from; i < to; ++i) {
    out.Put(answered ? ',' : '[');
    if (handle_request(batch[static_cast<unsigned>(i)], raw_ids[i], ctx, frame, w,
                       answer.GetAllocator())) {
      answered = true;
    } else {
      out.Pop(1);  // a notification: no answer, no separator
    }
    w.Reset(out);
  }
  frame.batch = true;
  frame.requests = to - from;
  if (answered) {
    out.Put(']');
    frame.response.assign(out.GetString(), out.GetSize());
  }
}

std::optional<RpcError> RpcHandler::check_params(const JsonValue& params) const {
  if (!params.IsObject()) return std::nullopt;  // Methods refuses anything but an object
  if (auto key = duplicate_key(params)) {
    return invalid_params("params has the key " + json_quote(*key) + " twice");
  }
  for (const auto& member : params.GetObject()) {
    if (!member.value.IsObject() && !member.value.IsArray()) continue;
    if (auto problem = check_json_value(member.value, max_document_depth_)) {
      std::string name =
          "params." + std::string(member.name.GetString(), member.name.GetStringLength());
      std::string message = describe(*problem, name, max_document_depth_);
      if (problem->kind == JsonProblem::Kind::too_deep) message += " (store.max_document_depth)";
      return RpcError(rpc_code::kInvalidParams, "invalid_document", message);
    }
  }
  return std::nullopt;
}

bool RpcHandler::handle_request(const JsonValue& request, std::string_view raw_id, CallContext& ctx,
                                HandledFrame& frame, Writer& out, JsonAllocator& alloc) {
  ++metrics_.requests;
  auto fail = [&](std::string_view id, int code, const std::string& reason,
                  const std::string& message) {
    ++metrics_.request_errors;
    write_error(out, id, code, reason, message);
    frame.ids.emplace_back(id);
    return true;
  };
  if (!request.IsObject()) {
    return fail(kNullId, rpc_code::kInvalidRequest, "invalid_request",
                std::string("a request must be an object, got ") + json_type_name(request));
  }
  auto id_it = request.FindMember("id");
  const bool notification = id_it == request.MemberEnd();
  if (!notification && (!valid_id(id_it->value) || raw_id.empty())) {
    return fail(kNullId, rpc_code::kInvalidRequest, "invalid_request",
                "id must be a string, a number or null");
  }
  const std::string_view id = notification ? kNullId : raw_id;
  if (auto key = duplicate_key(request)) {
    return fail(id, rpc_code::kInvalidRequest, "invalid_request",
                "the request has the key " + json_quote(*key) + " twice");
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
  const JsonValue null_params(rapidjson::kNullType);
  auto params_it = request.FindMember("params");
  const JsonValue& params = params_it == request.MemberEnd() ? null_params : params_it->value;

  JsonValue result;
  try {
    if (auto refused = check_params(params)) throw *refused;
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
    int code = e.reason() == "not_found"   ? rpc_code::kNotFound
               : e.reason() == "read_only" ? rpc_code::kForbidden
                                           : rpc_code::kInvalidParams;
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
  begin_answer(out, id);
  out.Key("result");
  result.Accept(out);
  out.EndObject();
  frame.ids.emplace_back(id);
  return true;
}

}  // namespace syncd
