// Fuzz target: the iterative JSON reader (util/json_reader.h) through parse_json, with
// the depth limit, the too-deep mode and relaxed syntax chosen by the first two bytes.
// Checks what util/json.h promises: no value deeper than the limit, markers only in
// mark mode, a parsed value serialises and parses back equal, and the modes agree
// (strict text parses the same relaxed, fail-mode text the same in mark mode); the
// comparisons are left out for values with a key twice (fuzz_support.h says why).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_support.h"

using namespace syncd;

namespace {

bool has_marker(const JsonValue& value) {
  std::vector<const JsonValue*> stack{&value};
  while (!stack.empty()) {
    const JsonValue* v = stack.back();
    stack.pop_back();
    if (is_too_deep(*v)) return true;
    if (v->IsArray()) {
      for (const auto& item : v->GetArray()) stack.push_back(&item);
    } else if (v->IsObject()) {
      for (const auto& m : v->GetObject()) stack.push_back(&m.value);
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz::Steering steer(input);
  const unsigned char flags = steer.byte();
  // Depths 1 to 32 mostly (short inputs reach them), sometimes past kMaxJsonDepth.
  const unsigned max_depth = flags & 0x80 ? kMaxJsonDepth + 1 : 1 + steer.byte() % 32;
  JsonParseOptions options;
  options.max_depth = max_depth;
  options.mark_too_deep = flags & 1;
  options.relaxed = flags & 2;
  const unsigned limit = std::min(max_depth, kMaxJsonDepth);

  JsonDocument doc;
  if (parse_json(input, doc, options)) return 0;
  const unsigned depth = fuzz::json_depth(doc);
  if (depth > limit)
    fuzz::fail("nests " + std::to_string(depth) + " deep, limit " + std::to_string(limit));
  const bool marked = has_marker(doc);
  if (marked && !options.mark_too_deep) fuzz::fail("a too-deep marker in fail mode");
  if (auto problem = check_json_value(doc, limit);
      problem && problem->kind == JsonProblem::Kind::too_deep && !marked) {
    fuzz::fail("check_json_value says too deep, but nothing was marked");
  }
  if (fuzz::has_duplicate_key(doc)) return 0;  // equality means nothing for it
  fuzz::check_round_trip(doc, "a parsed value");

  if (!options.relaxed) {
    JsonParseOptions relaxed = options;
    relaxed.relaxed = true;
    JsonDocument again;
    if (auto error = parse_json(input, again, relaxed))
      fuzz::fail("strict text fails relaxed: " + *error);
    if (!json_equal(doc, again)) fuzz::fail("strict and relaxed parses differ");
  }
  if (!options.mark_too_deep) {
    JsonParseOptions mark = options;
    mark.mark_too_deep = true;
    JsonDocument again;
    if (auto error = parse_json(input, again, mark))
      fuzz::fail("fail-mode text fails in mark mode: " + *error);
    if (!json_equal(doc, again)) fuzz::fail("fail and mark mode parses differ");
  }
  return 0;
}
