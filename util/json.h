#pragma once
// Small RapidJSON helpers shared by every layer: strict parsing with a readable error,
// compact serialisation, RFC 7386 merge patch, and RFC 3339 time formatting.
#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace syncd {

using JsonValue = rapidjson::Value;
using JsonDocument = rapidjson::Document;
using JsonAllocator = rapidjson::Document::AllocatorType;

// Parses exactly one JSON value (UTF-8 validated, nothing after it but whitespace).
// Returns an error message such as "parse error at offset 4: Invalid value." on failure.
std::optional<std::string> parse_json(std::string_view text, JsonDocument& out);

// Like parse_json, but also accepts // and /* */ comments and trailing commas.
std::optional<std::string> parse_json_relaxed(std::string_view text, JsonDocument& out);

std::string to_json(const JsonValue& value);
std::string to_pretty_json(const JsonValue& value);

// RFC 7386: merges `patch` into `target` in place. A null member removes the key; a
// non-object patch replaces the target.
void apply_merge_patch(JsonValue& target, const JsonValue& patch, JsonAllocator& alloc);

const char* json_type_name(const JsonValue& value);

// "2026-11-26T20:10:04Z" (second precision, UTC).
std::string format_rfc3339_utc(int64_t unix_ms);

// Convenience: a string value that copies `s` into `alloc`.
inline JsonValue json_string(std::string_view s, JsonAllocator& alloc) {
  return JsonValue(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

}  // namespace syncd
