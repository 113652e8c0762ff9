// Fuzz target: RFC 7386 JSON merge patch (apply_merge_patch in util/json.h) on a target
// document and a patch, the input's two NUL-separated parts. Checked against a plain
// reading of the RFC's pseudocode (a lookup per member), which the indexed version
// for wide objects must agree with; and the promises of util/json.h: the result nests
// no deeper than the deeper input, and applying the same patch twice changes nothing.
// Inputs with a key twice are left out: syncd refuses those before any patch runs.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_support.h"

using namespace syncd;

namespace {

// RFC 7386 section 2, literally. Recursive, as the inputs are at most kMaxJsonDepth deep.
void reference_merge_patch(JsonValue& target, const JsonValue& patch, JsonAllocator& alloc) {
  if (!patch.IsObject()) {
    target.CopyFrom(patch, alloc);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  for (const auto& member : patch.GetObject()) {
    auto existing = target.FindMember(member.name);
    if (member.value.IsNull()) {
      if (existing != target.MemberEnd()) target.RemoveMember(existing);
    } else if (existing != target.MemberEnd()) {
      reference_merge_patch(existing->value, member.value, alloc);
    } else {
      JsonValue value;
      reference_merge_patch(value, member.value, alloc);
      target.AddMember(JsonValue(member.name, alloc), value, alloc);
    }
  }
}

bool parse_part(std::string_view text, JsonDocument& doc) {
  return !parse_json(text, doc) && !check_json_value(doc, kMaxJsonDepth);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parts = fuzz::split_parts(input, 2);
  if (parts.size() != 2) return 0;
  JsonDocument target, patch;
  if (!parse_part(parts[0], target) || !parse_part(parts[1], patch)) return 0;

  JsonDocument result;
  result.CopyFrom(target, result.GetAllocator());
  apply_merge_patch(result, patch, result.GetAllocator());

  JsonDocument expected;
  expected.CopyFrom(target, expected.GetAllocator());
  reference_merge_patch(expected, patch, expected.GetAllocator());
  if (!json_equal(result, expected)) {
    fuzz::fail("merge patch gives " + to_json(result) + ", RFC 7386 says " + to_json(expected));
  }
  if (auto problem = check_json_value(result, kMaxJsonDepth)) {
    fuzz::fail("the result has a problem: " + describe(*problem, "result", kMaxJsonDepth));
  }
  const unsigned deepest = std::max(fuzz::json_depth(target), fuzz::json_depth(patch));
  if (fuzz::json_depth(result) > deepest) fuzz::fail("the result nests deeper than its inputs");

  JsonDocument twice;
  twice.CopyFrom(result, twice.GetAllocator());
  apply_merge_patch(twice, patch, twice.GetAllocator());
  if (!json_equal(twice, result)) fuzz::fail("applying the patch again changed the result");
  fuzz::check_round_trip(result, "the result");
  return 0;
}
