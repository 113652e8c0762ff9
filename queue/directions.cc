#include "queue/directions.h"

#include <algorithm>

namespace syncd {

std::optional<Direction> parse_direction(const std::string& text) {
  if (text == "both") return Direction::both;
  if (text == "push") return Direction::push;
  if (text == "pull") return Direction::pull;
  if (text == "local") return Direction::local;
  return std::nullopt;
}

const char* to_string(Direction d) {
  switch (d) {
    case Direction::both:
      return "both";
    case Direction::push:
      return "push";
    case Direction::pull:
      return "pull";
    case Direction::local:
      return "local";
  }
  return "?";
}

std::vector<std::string> Directions::pull_filter() const {
  std::vector<std::string> names;
  if (fallback_ == Direction::both || fallback_ == Direction::pull) return names;
  for (const auto& [name, d] : per_collection_) {
    if (d == Direction::both || d == Direction::pull) names.push_back(name);
  }
  return names;
}

namespace {

// A scope is "all\n" or "only\n", then one collection name per line.
struct Scope {
  bool all = true;
  std::vector<std::string> names;
};

Scope parse_scope(const std::string& text) {
  Scope scope;
  if (text.empty()) return scope;
  size_t at = text.find('\n');
  scope.all = text.compare(0, at, "all") == 0;
  while (at != std::string::npos && at + 1 < text.size()) {
    const size_t end = text.find('\n', at + 1);
    scope.names.push_back(text.substr(at + 1, end - at - 1));
    at = end;
  }
  return scope;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::string Directions::pull_scope() const {
  const bool all = fallback_ == Direction::both || fallback_ == Direction::pull;
  std::string text = all ? "all\n" : "only\n";
  for (const auto& [name, d] : per_collection_) {
    const bool pulls = d == Direction::both || d == Direction::pull;
    if (pulls != all) text += name + '\n';  // the exceptions, or the list
  }
  return text;
}

bool Directions::widens(const std::string& before, const std::string& after) {
  const Scope old_scope = parse_scope(before);
  const Scope new_scope = parse_scope(after);
  if (old_scope.all && new_scope.all) {
    for (const std::string& name : old_scope.names) {
      if (!has(new_scope.names, name)) return true;  // no longer left out
    }
    return false;
  }
  if (old_scope.all) return false;  // from all-but to a list: narrower
  if (new_scope.all) return true;   // from a list to all-but: wider
  for (const std::string& name : new_scope.names) {
    if (!has(old_scope.names, name)) return true;
  }
  return false;
}

}  // namespace syncd
