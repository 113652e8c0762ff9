#include "queue/directions.h"

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

}  // namespace syncd
