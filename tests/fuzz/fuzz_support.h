#pragma once
// What the libFuzzer targets in tests/fuzz share: steering bytes taken from the front of
// an input, splitting the rest into parts, the depth of a JSON value, and fail(), which
// stops the run so that libFuzzer keeps the input as a crash. A target checks the
// invariants its header promises (depth bounds, round trips, equal results whatever
// the split), not only that nothing crashes: a wrong answer is a bug too.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.h"

namespace syncd::fuzz {

// Prints what did not hold and aborts (libFuzzer reports "deadly signal").
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what.c_str());
  std::abort();
}

// Reads steering bytes off the front of the input; 0 once it is used up, so every
// input, however short, means something.
class Steering {
 public:
  explicit Steering(std::string_view& input) : input_(input) {}
  unsigned char byte() {
    if (input_.empty()) return 0;
    const auto b = static_cast<unsigned char>(input_.front());
    input_.remove_prefix(1);
    return b;
  }

 private:
  std::string_view& input_;
};

// The input as at most `max_parts` parts separated by NUL bytes, the last holding the
// rest. JSON text holds no raw NUL, so a separator is never inside a value; missing
// parts are absent (the vector is shorter).
inline std::vector<std::string_view> split_parts(std::string_view input, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t nul = input.find('\0');
    if (nul == std::string_view::npos) break;
    parts.push_back(input.substr(0, nul));
    input.remove_prefix(nul + 1);
  }
  parts.push_back(input);
  return parts;
}

// How deep `value` nests (a scalar 0, [] 1), without recursion: the targets check
// depth bounds on values the code under test built.
inline unsigned json_depth(const JsonValue& value) {
  unsigned deepest = 0;
  std::vector<std::pair<const JsonValue*, unsigned>> stack{{&value, 0}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (v->IsArray()) {
      deepest = std::max(deepest, depth + 1);
      for (const auto& item : v->GetArray()) stack.emplace_back(&item, depth + 1);
    } else if (v->IsObject()) {
      deepest = std::max(deepest, depth + 1);
      for (const auto& m : v->GetObject()) stack.emplace_back(&m.value, depth + 1);
    } else {
      deepest = std::max(deepest, depth);
    }
  }
  return deepest;
}

// True when an object anywhere in `value` has a key twice. Equality (json_equal, as
// RapidJSON's ==) reads the first of two equal keys, so such a value need not even equal
// itself; syncd refuses them from clients and the server, and targets skip them.
inline bool has_duplicate_key(const JsonValue& value) {
  std::vector<const JsonValue*> stack{&value};
  while (!stack.empty()) {
    const JsonValue* v = stack.back();
    stack.pop_back();
    if (v->IsArray()) {
      for (const auto& item : v->GetArray()) stack.push_back(&item);
    } else if (v->IsObject()) {
      if (duplicate_key(*v)) return true;
      for (const auto& m : v->GetObject()) stack.push_back(&m.value);
    }
  }
  return false;
}

// `value` serialised and parsed back must be equal to itself.
inline void check_round_trip(const JsonValue& value, const char* what) {
  const std::string text = to_json(value);
  JsonDocument again;
  if (auto error = parse_json(text, again))
    fail(std::string(what) + " does not parse back: " + *error);
  if (!json_equal(value, again)) fail(std::string(what) + " parses back different: " + text);
}

}  // namespace syncd::fuzz
