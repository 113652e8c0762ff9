#pragma once
// Which way each collection syncs (config sync.collections and sync.default_direction):
// both; push (local writes go up, pulled changes are ignored); pull (the remote's
// changes come down, local writes are refused); local (never leaves the device). The
// write path (LocalWrites) refuses pull-only writes and keeps local collections out of
// the queue; the sync engine passes over pulled changes of collections that do not pull.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace syncd {

enum class Direction { both, push, pull, local };
std::optional<Direction> parse_direction(const std::string& text);
const char* to_string(Direction d);

class Directions {
 public:
  Directions() = default;
  Directions(Direction fallback, std::map<std::string, Direction> per_collection)
      : fallback_(fallback), per_collection_(std::move(per_collection)) {}

  Direction of(const std::string& collection) const {
    auto it = per_collection_.find(collection);
    return it == per_collection_.end() ? fallback_ : it->second;
  }
  bool pushes(const std::string& collection) const {
    const Direction d = of(collection);
    return d == Direction::both || d == Direction::push;
  }
  bool pulls(const std::string& collection) const {
    const Direction d = of(collection);
    return d == Direction::both || d == Direction::pull;
  }
  // The collections to ask the remote for: empty means all of them (then changes of
  // collections that do not pull are ignored as they arrive). A list only when the
  // default does not pull, since a filter names what to include.
  std::vector<std::string> pull_filter() const;
  // What the pulls cover, as stored beside the pull cursor: "all but" the collections
  // that do not pull, or "only" those that do.
  std::string pull_scope() const;
  // True when scope `after` covers a collection `before` did not (its changes before the
  // cursor were never taken: the pull starts again from the beginning). An empty
  // `before` (a store from before scopes) covered every collection.
  static bool widens(const std::string& before, const std::string& after);

 private:
  Direction fallback_ = Direction::both;
  std::map<std::string, Direction> per_collection_;
};

}  // namespace syncd
