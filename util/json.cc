#include "util/json.h"

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <time.h>

namespace syncd {
namespace {
// The offset of the first byte at or after `from` that is not JSON whitespace.
size_t skip_whitespace(std::string_view text, size_t from) {
  while (from < text.size() &&
         (text[from] == ' ' || text[from] == '\t' || text[from] == '\r' || text[from] == '\n')) {
    ++from;
  }
  return from;
}

template <unsigned kFlags>
std::optional<std::string> parse_one(std::string_view text, JsonDocument& out) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  out.ParseStream<kFlags | rapidjson::kParseValidateEncodingFlag |
                  rapidjson::kParseStopWhenDoneFlag>(is);
  if (out.HasParseError()) {
    return "parse error at offset " + std::to_string(out.GetErrorOffset()) + ": " +
           rapidjson::GetParseError_En(out.GetParseError());
  }
  size_t extra = skip_whitespace(text, is.Tell());
  if (extra != text.size()) {
    return "parse error at offset " + std::to_string(extra) +
           ": unexpected data after the JSON value";
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> parse_json(std::string_view text, JsonDocument& out) {
  return parse_one<rapidjson::kParseDefaultFlags>(text, out);
}

std::optional<std::string> parse_json_relaxed(std::string_view text, JsonDocument& out) {
  return parse_one<rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag>(text, out);
}

std::string to_json(const JsonValue& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string to_pretty_json(const JsonValue& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

void apply_merge_patch(JsonValue& target, const JsonValue& patch, JsonAllocator& alloc) {
  if (!patch.IsObject()) {
    target.CopyFrom(patch, alloc);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  for (auto& member : patch.GetObject()) {
    auto existing = target.FindMember(member.name);
    if (member.value.IsNull()) {
      if (existing != target.MemberEnd()) target.RemoveMember(existing);
    } else if (existing != target.MemberEnd()) {
      apply_merge_patch(existing->value, member.value, alloc);
    } else {
      JsonValue name(member.name, alloc);
      JsonValue value(rapidjson::kNullType);
      apply_merge_patch(value, member.value, alloc);
      target.AddMember(name, value, alloc);
    }
  }
}

const char* json_type_name(const JsonValue& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return "number";
  }
  return "unknown";
}

std::string format_rfc3339_utc(int64_t unix_ms) {
  time_t seconds = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char out[32];
  strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return out;
}

}  // namespace syncd
