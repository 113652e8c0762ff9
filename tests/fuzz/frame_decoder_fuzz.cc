// Fuzz target: the JSON-RPC frame decoder (daemon/rpc_frame.h), the first thing a
// client's line meets. The first byte picks the depth limit. Checks: one raw id per
// request (the frame, or each element of a batch), each a view into the frame that
// parses to the id the DOM holds, and nothing deeper than the limit in the DOM.
#include <cstddef>
#include <cstdint>

#include "daemon/rpc_frame.h"
#include "tests/fuzz/fuzz_support.h"

using namespace syncd;

namespace {

// What the raw id of `request` must be: the text of its first "id" member when that is
// a string, a number or null.
void check_id(std::string_view frame, const JsonValue& request, std::string_view raw) {
  if (!raw.empty() &&
      (raw.data() < frame.data() || raw.data() + raw.size() > frame.data() + frame.size())) {
    fuzz::fail("a raw id points outside the frame");
  }
  // A request nested past the limit is a marker; its id may still be read (the
  // recorder sees the skipped text), which only helps the answer name it.
  if (is_too_deep(request)) return;
  const JsonValue* id = nullptr;
  if (request.IsObject()) {
    auto it = request.FindMember("id");
    if (it != request.MemberEnd()) id = &it->value;
  }
  const bool scalar = id && !is_too_deep(*id) && (id->IsString() || id->IsNumber() || id->IsNull());
  if (!scalar) {
    if (!raw.empty())
      fuzz::fail("a raw id \"" + std::string(raw) + "\" for a request without a scalar id");
    return;
  }
  JsonDocument parsed;
  if (auto error = parse_json(raw, parsed))
    fuzz::fail("raw id \"" + std::string(raw) + "\" is not JSON: " + *error);
  if (!json_equal(parsed, *id))
    fuzz::fail("raw id \"" + std::string(raw) + "\" differs from the id " + to_json(*id));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  fuzz::Steering steer(frame);
  // syncd's frames allow at least 4 levels (a document of depth 1 in its envelope).
  const unsigned max_depth = 2 + steer.byte() % 16;
  JsonDocument doc;
  std::vector<std::string_view> raw_ids;
  if (decode_frame(frame, max_depth, doc, raw_ids)) return 0;
  if (fuzz::json_depth(doc) > max_depth) fuzz::fail("the frame's DOM nests past the limit");
  if (doc.IsArray()) {
    if (raw_ids.size() != doc.Size()) {
      fuzz::fail(std::to_string(raw_ids.size()) + " raw ids for a batch of " +
                 std::to_string(doc.Size()));
    }
    for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) check_id(frame, doc[i], raw_ids[i]);
  } else {
    if (raw_ids.size() != 1)
      fuzz::fail(std::to_string(raw_ids.size()) + " raw ids for one request");
    check_id(frame, doc, raw_ids[0]);
  }
  return 0;
}
