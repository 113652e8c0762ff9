#include "util/json.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <time.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "util/json_reader.h"

namespace syncd {
namespace {

template <bool kRelaxed>
std::optional<std::string> parse_one(std::string_view text, JsonDocument& out,
                                     const JsonParseOptions& options) {
  JsonTextReader reader(text);
  JsonDepthFilter<JsonDocument> filter(out, std::min(options.max_depth, kMaxJsonDepth),
                                       options.mark_too_deep ? TooDeep::mark : TooDeep::fail);
  return reader.build<kRelaxed>(out, filter);
}

// RFC 6901: "~" and "/" in a key are escaped.
void append_pointer_token(std::string& path, std::string_view key) {
  path += '/';
  for (char c : key) {
    if (c == '~') {
      path += "~0";
    } else if (c == '/') {
      path += "~1";
    } else {
      path += c;
    }
  }
}

// `s` with each byte below 0x20 and DEL as \u00XX, the rest as it is.
std::string escape_control_bytes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Lets an index of owned names be searched with a string_view.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

std::optional<std::string> parse_json(std::string_view text, JsonDocument& out,
                                      const JsonParseOptions& options) {
  if (options.relaxed) return parse_one<true>(text, out, options);
  return parse_one<false>(text, out, options);
}

std::optional<std::string> parse_json_relaxed(std::string_view text, JsonDocument& out) {
  JsonParseOptions options;
  options.relaxed = true;
  return parse_json(text, out, options);
}

bool is_too_deep(const JsonValue& value) {
  return value.IsString() && value.GetString() == kTooDeepMarker;
}

std::optional<std::string_view> duplicate_key(const JsonValue& object) {
  if (!object.IsObject() || object.MemberCount() < 2) return std::nullopt;
  // Pairwise for the small objects documents are mostly made of; sorted names beyond.
  constexpr rapidjson::SizeType kPairwiseUpTo = 16;
  if (object.MemberCount() <= kPairwiseUpTo) {
    for (auto a = object.MemberBegin(); a != object.MemberEnd(); ++a) {
      for (auto b = a + 1; b != object.MemberEnd(); ++b) {
        if (member_name(*a) == member_name(*b)) return member_name(*a);
      }
    }
    return std::nullopt;
  }
  std::vector<const JsonValue::Member*> sorted = members_by_name(object);
  auto twice = std::adjacent_find(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return member_name(*a) == member_name(*b);
  });
  if (twice == sorted.end()) return std::nullopt;
  return member_name(**twice);
}

std::optional<JsonProblem> check_json_value(const JsonValue& value, unsigned max_depth) {
  // Depth-first with an explicit stack: one frame per open container, so the path of
  // the current value is on the stack.
  struct Frame {
    const JsonValue* container;
    rapidjson::SizeType next = 0;  // index of the next child to visit
  };
  std::vector<Frame> stack;
  auto path = [&] {
    std::string out;
    for (const Frame& f : stack) {
      if (&f == &stack.back()) break;
      const rapidjson::SizeType at = f.next - 1;
      if (f.container->IsObject()) {
        append_pointer_token(out, member_name(f.container->MemberBegin()[at]));
      } else {
        out += '/' + std::to_string(at);
      }
    }
    return out;
  };
  const JsonValue* current = &value;
  while (true) {
    if (is_too_deep(*current)) return JsonProblem{JsonProblem::Kind::too_deep, {}, {}};
    if (current->IsObject() || current->IsArray()) {
      if (stack.size() + 1 > max_depth) return JsonProblem{JsonProblem::Kind::too_deep, {}, {}};
      stack.push_back(Frame{current});
      if (auto key = duplicate_key(*current)) {
        return JsonProblem{JsonProblem::Kind::duplicate_key, path(), json_quote(*key)};
      }
    }
    current = nullptr;
    while (!stack.empty() && current == nullptr) {
      Frame& f = stack.back();
      const bool object = f.container->IsObject();
      const rapidjson::SizeType size = object ? f.container->MemberCount() : f.container->Size();
      if (f.next == size) {
        stack.pop_back();
        continue;
      }
      current = object ? &f.container->MemberBegin()[f.next].value : &(*f.container)[f.next];
      ++f.next;
    }
    if (current == nullptr) return std::nullopt;
  }
}

std::string describe(const JsonProblem& problem, std::string_view subject, unsigned max_depth) {
  std::string out(subject);
  if (problem.kind == JsonProblem::Kind::too_deep) {
    return out + " nests deeper than " + std::to_string(max_depth) +
           " levels of arrays and objects";
  }
  // The keys come from outside (a server's document reaches status and the log), so
  // their control bytes are shown escaped, as JSON would write them.
  return out + escape_control_bytes(problem.path) + " has the key " +
         escape_control_bytes(problem.key) + " twice";
}

std::string to_json(const JsonValue& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string json_quote(std::string_view s) {
  return to_json(JsonValue(rapidjson::StringRef(s.data(), s.size())));
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
  // Each patch member is looked up in the target: by a scan while one side is small
  // (the usual patch), by an index of the target's names otherwise, so that a patch of
  // 40,000 keys on a document of as many takes milliseconds, not seconds.
  constexpr rapidjson::SizeType kScanUpTo = 16;
  const bool scan = patch.MemberCount() <= kScanUpTo || target.MemberCount() <= kScanUpTo;
  // Owned names: AddMember may move the members, short names are stored inside them.
  std::unordered_map<std::string, rapidjson::SizeType, NameHash, std::equal_to<>> index;
  if (!scan) {
    for (rapidjson::SizeType i = 0; i < target.MemberCount(); ++i) {
      index.emplace(member_name(target.MemberBegin()[i]), i);
    }
  }
  for (auto& member : patch.GetObject()) {
    const std::string_view name = member_name(member);
    auto existing = target.MemberEnd();
    if (scan) {
      existing = target.FindMember(member.name);
    } else if (auto it = index.find(name); it != index.end()) {
      existing = target.MemberBegin() + it->second;
    }
    if (member.value.IsNull()) {
      if (existing == target.MemberEnd()) continue;
      // RemoveMember moves the last member into the hole: its index entry follows.
      const auto at = static_cast<rapidjson::SizeType>(existing - target.MemberBegin());
      const rapidjson::SizeType last = target.MemberCount() - 1;
      if (!scan) index.erase(index.find(name));
      target.RemoveMember(existing);
      if (!scan && at != last) {
        auto moved = index.find(member_name(target.MemberBegin()[at]));
        if (moved != index.end() && moved->second == last) moved->second = at;
      }
    } else if (existing != target.MemberEnd()) {
      apply_merge_patch(existing->value, member.value, alloc);
    } else {
      JsonValue key(member.name, alloc);
      JsonValue value(rapidjson::kNullType);
      apply_merge_patch(value, member.value, alloc);
      target.AddMember(key, value, alloc);
      if (!scan) index.emplace(name, target.MemberCount() - 1);
    }
  }
}

bool json_equal(const JsonValue& a, const JsonValue& b) {
  if (a.GetType() != b.GetType()) return false;
  if (a.IsArray()) {
    if (a.Size() != b.Size()) return false;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
      if (!json_equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (!a.IsObject()) return a == b;  // a scalar: RapidJSON compares numbers by value
  if (a.MemberCount() != b.MemberCount()) return false;
  constexpr rapidjson::SizeType kScanUpTo = 16;
  if (a.MemberCount() <= kScanUpTo) {  // no allocation for the usual small object
    for (const auto& m : a.GetObject()) {
      auto other = b.FindMember(m.name);
      if (other == b.MemberEnd() || !json_equal(m.value, other->value)) return false;
    }
    // Only with a key twice can `b` have a name `a` lacks; such objects are not equal.
    for (const auto& m : b.GetObject()) {
      if (!a.HasMember(m.name)) return false;
    }
    return true;
  }
  std::vector<const JsonValue::Member*> x = members_by_name(a), y = members_by_name(b);
  for (size_t i = 0; i < x.size(); ++i) {
    if (member_name(*x[i]) != member_name(*y[i]) || !json_equal(x[i]->value, y[i]->value))
      return false;
  }
  return true;
}

std::vector<const JsonValue::Member*> members_by_name(const JsonValue& object) {
  std::vector<const JsonValue::Member*> out;
  if (!object.IsObject()) return out;
  out.reserve(object.MemberCount());
  for (const auto& m : object.GetObject()) out.push_back(&m);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto* l, const auto* r) { return member_name(*l) < member_name(*r); });
  return out;
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

std::string well_formed_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    size_t length = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    bool ok = length > 0 && i + length <= text.size();
    uint32_t code = length == 1 ? c : length == 2 ? c & 0x1F : length == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; ok && k < length; ++k) {
      ok = (byte(i + k) & 0xC0) == 0x80;
      code = code << 6 | (byte(i + k) & 0x3F);
    }
    // No overlong forms, no surrogates, nothing past U+10FFFF.
    ok = ok && !(length == 2 && code < 0x80) && !(length == 3 && code < 0x800) &&
         !(length == 4 && (code < 0x10000 || code > 0x10FFFF)) &&
         !(code >= 0xD800 && code <= 0xDFFF);
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace syncd
