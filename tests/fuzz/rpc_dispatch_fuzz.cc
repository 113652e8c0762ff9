// Fuzz target: the JSON-RPC dispatcher (RpcHandler::handle_frame) with the real methods
// over a SQLite database in a temp dir, set up once with a few documents, as
// tests/daemon/rpc_handler_test.cc sets it up. Each input is one frame handled in a
// transaction that is rolled back, so every input meets the same store and a crash
// reproduces alone. The first byte picks a batch slice (0: the whole batch at once).
// Checks: every answer is valid JSON-RPC 2.0 text (ids echoed as written), and no
// frame makes an internal_error or a storage error: those are bugs, not bad input.
#include <cstddef>
#include <cstdint>

#include "daemon/rpc_handler.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/test_support.h"

using namespace syncd;

namespace {

// The daemon's parts that the methods need, without the loop, the socket or sync.
struct FuzzDaemon {
  FuzzDaemon() {
    CallContext ctx{subscriptions, changes};
    Transaction tx(*db);
    for (
        const char* frame : {
            R"({"jsonrpc":"2.0","id":1,"method":"put","params":{"collection":"notes","id":"a","data":{"t":1,"tags":["x"]}}})",
            R"({"jsonrpc":"2.0","id":2,"method":"put","params":{"collection":"notes","id":"b","data":{"n":{"m":null}}}})",
            R"({"jsonrpc":"2.0","id":3,"method":"put","params":{"collection":"todo","id":"c","data":{}}})",
            R"({"jsonrpc":"2.0","id":4,"method":"delete","params":{"collection":"todo","id":"c"}})",
        }) {
      HandledFrame handled = handler.handle_frame(frame, ctx);
      if (handled.response.find("\"error\"") != std::string::npos)
        fuzz::fail("setup: " + handled.response);
    }
    tx.commit();
  }

  testing::TempDir dir;
  std::unique_ptr<Database> db = testing::open_test_database(dir.file("fuzz.db"));
  DocumentStore docs{*db};
  MutationQueue queue{*db};
  FakeClock clock;
  Xoshiro256 random{7};
  Uuid7Generator ids{clock, random};
  LocalWrites writes{docs, queue, ids, clock, 64 << 10};
  ResolutionLog resolutions{*db};
  DaemonInfo info{"fuzz-client", 0, {}};
  Metrics metrics;
  Methods methods{docs, queue, writes, clock, ids, info, metrics, &resolutions};
  RpcHandler handler{methods, metrics, 16};
  Subscriptions subscriptions;
  std::vector<ChangeEvent> changes;
};

// One answer object: JSON-RPC 2.0, an id, a result or an error that is not a bug.
void check_answer(const JsonValue& answer, const std::string& line) {
  if (!answer.IsObject()) fuzz::fail("an answer is not an object: " + line);
  auto version = answer.FindMember("jsonrpc");
  if (version == answer.MemberEnd() || !version->value.IsString() ||
      std::string_view(version->value.GetString()) != "2.0" || !answer.HasMember("id")) {
    fuzz::fail("an answer without jsonrpc 2.0 or id: " + line);
  }
  auto error = answer.FindMember("error");
  if (error == answer.MemberEnd()) return;
  const JsonValue& reason = error->value["data"]["reason"];
  const std::string_view why(reason.GetString(), reason.GetStringLength());
  if (why == "internal_error" || why == "storage_error" || why == "storage_full") {
    fuzz::fail("a frame made " + std::string(why) + ": " + line);
  }
}

void check_response(const HandledFrame& handled) {
  if (handled.storage_failed) fuzz::fail("storage failed: " + handled.storage_error);
  if (handled.response.empty()) return;
  JsonDocument doc;
  if (auto error = parse_json(handled.response, doc)) {
    fuzz::fail("the answer is not JSON (" + *error + "): " + handled.response);
  }
  if (doc.IsArray()) {
    for (const auto& answer : doc.GetArray()) check_answer(answer, handled.response);
  } else {
    check_answer(doc, handled.response);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FuzzDaemon* daemon =
      new FuzzDaemon;  // for the whole run; never freed (no exit-time order)
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  fuzz::Steering steer(frame);
  const size_t slice = steer.byte() % 4;

  Subscriptions subscriptions;
  std::vector<ChangeEvent> changes;
  CallContext ctx{subscriptions, changes};
  Transaction tx(*daemon->db);  // rolled back: the next input meets the same store
  std::unique_ptr<BatchInProgress> rest;
  HandledFrame handled = slice == 0 ? daemon->handler.handle_frame(frame, ctx)
                                    : daemon->handler.handle_frame(frame, ctx, slice, &rest);
  check_response(handled);
  while (rest && !rest->done()) {
    check_response(daemon->handler.continue_batch(*rest, ctx, slice));
  }
  return 0;
}
