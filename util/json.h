#pragma once
// Small RapidJSON helpers shared by every layer: strict parsing with a readable error,
// compact serialisation, RFC 7386 merge patch, and RFC 3339 time formatting.
//
// Depth: every JSON value syncd holds comes from parse_json, which never builds one
// nested deeper than kMaxJsonDepth, or is made from such values without nesting them
// deeper (merge patch and three-way merge results nest at most as deep as their inputs).
// So the walkers that recurse (RapidJSON's Accept, CopyFrom and operator==, and
// apply_merge_patch, three_way_merge) recurse a bounded number of times, whatever the
// input; destruction does not recurse (the pool allocator frees nothing per value).
#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace syncd {

using JsonValue = rapidjson::Value;
using JsonDocument = rapidjson::Document;
using JsonAllocator = rapidjson::Document::AllocatorType;

// The deepest nesting of arrays and objects (the outermost counts 1) of any JSON value in
// syncd. A few hundred bytes of stack per level for the recursive walkers, so far from
// any thread's stack; store.max_document_depth is at most 1000, which leaves room for
// the envelope a document travels in (an RPC frame, a pull page, a push answer).
constexpr unsigned kMaxJsonDepth = 1024;

struct JsonParseOptions {
  unsigned max_depth = kMaxJsonDepth;  // clamped to kMaxJsonDepth
  // fail: deeper text is a parse error. mark: each container past max_depth is read
  // past and stands as a marker (is_too_deep), for an envelope whose parts are judged
  // one by one (check_json_value).
  bool mark_too_deep = false;
  bool relaxed = false;  // also accept // and /* */ comments and trailing commas
};

// Parses exactly one JSON value (UTF-8 validated, nothing after it but whitespace),
// without recursion. Returns an error message such as "parse error at offset 4: Invalid
// value." or "parse error at offset 1030: nests deeper than 1024 levels of arrays and
// objects" on failure.
std::optional<std::string> parse_json(std::string_view text, JsonDocument& out,
                                      const JsonParseOptions& options = {});

// Like parse_json, but also accepts // and /* */ comments and trailing commas.
std::optional<std::string> parse_json_relaxed(std::string_view text, JsonDocument& out);

// True for the marker standing for a container that was nested too deep.
bool is_too_deep(const JsonValue& value);

// What is wrong with a value from outside: nested deeper than allowed (a too-deep
// marker counts as deeper), or an object with a key twice (RapidJSON keeps both members,
// and readers disagree about which one counts: FindMember takes the first, the
// reference server the last).
struct JsonProblem {
  enum class Kind { too_deep, duplicate_key } kind;
  std::string path;  // duplicate_key: the object, as a JSON pointer ("" for the value itself)
  std::string key;   // duplicate_key: the key, as JSON text
};

// Checks `value` before anything walks it: at most `max_depth` deep, no key twice in
// any object. Iterative; linear in the size of the value (n log n per wide object).
std::optional<JsonProblem> check_json_value(const JsonValue& value, unsigned max_depth);
// A key of `object` that appears twice (the first found), or nullopt. Not recursive.
std::optional<std::string_view> duplicate_key(const JsonValue& object);
// "`subject` nests deeper than 64 levels of arrays and objects" or
// "`subject`/a/0 has the key "k" twice".
std::string describe(const JsonProblem& problem, std::string_view subject, unsigned max_depth);

std::string to_json(const JsonValue& value);
std::string to_pretty_json(const JsonValue& value);
// `s` as a JSON string: "a\"b".
std::string json_quote(std::string_view s);

// `text` with every byte that is not part of well-formed UTF-8 (RFC 3629) replaced by
// U+FFFD: a path or a library's message may hold any bytes, a JSON text may not.
std::string well_formed_utf8(std::string_view text);

// RFC 7386: merges `patch` into `target` in place. A null member removes the key; a
// non-object patch replaces the target. Recurses once per level of `patch` (at most
// kMaxJsonDepth); the result nests no deeper than the deeper of the two.
void apply_merge_patch(JsonValue& target, const JsonValue& patch, JsonAllocator& alloc);

// Deep equality, as RapidJSON's operator== (object members in any order, numbers by
// value) but in n log n per object instead of n squared: members are compared in name
// order. Recursive, at most kMaxJsonDepth deep.
bool json_equal(const JsonValue& a, const JsonValue& b);
// The members of `object` in byte order of their names, equal names in document order
// (empty when `object` is not an object).
std::vector<const JsonValue::Member*> members_by_name(const JsonValue& object);

inline std::string_view member_name(const JsonValue::Member& m) {
  return {m.name.GetString(), m.name.GetStringLength()};
}

const char* json_type_name(const JsonValue& value);

// "2026-11-26T20:10:04Z" (second precision, UTC).
std::string format_rfc3339_utc(int64_t unix_ms);

// Convenience: a string value that copies `s` into `alloc`.
inline JsonValue json_string(std::string_view s, JsonAllocator& alloc) {
  return JsonValue(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

}  // namespace syncd
