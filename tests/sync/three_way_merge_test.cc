#include "sync/three_way_merge.h"

#include <gtest/gtest.h>

#include "sync/conflict_resolver.h"

namespace syncd {
namespace {

struct Case {
  const char* name;
  const char* base;    // nullptr: absent
  const char* local;   // nullptr: deleted locally
  const char* remote;  // nullptr: deleted on the server
  Tiebreak tiebreak;
  const char* merged;  // nullptr: deleted
  std::vector<std::string> conflicts;
};

std::unique_ptr<JsonDocument> parse_or_null(const char* text) {
  if (text == nullptr) return nullptr;
  auto doc = std::make_unique<JsonDocument>();
  EXPECT_FALSE(parse_json(text, *doc)) << text;
  return doc;
}

TEST(ThreeWayMerge, TableOfCases) {
  const Tiebreak L = Tiebreak::local, R = Tiebreak::remote;
  const std::vector<Case> cases = {
      {"disjoint fields",
       R"({"a":1,"b":1})",
       R"({"a":2,"b":1})",
       R"({"a":1,"b":3})",
       L,
       R"({"a":2,"b":3})",
       {}},
      {"same change on both sides", R"({"a":1})", R"({"a":5})", R"({"a":5})", L, R"({"a":5})", {}},
      {"both changed, local wins",
       R"({"a":1})",
       R"({"a":2})",
       R"({"a":3})",
       L,
       R"({"a":2})",
       {"/a"}},
      {"both changed, remote wins",
       R"({"a":1})",
       R"({"a":2})",
       R"({"a":3})",
       R,
       R"({"a":3})",
       {"/a"}},
      {"local adds, remote adds another",
       R"({})",
       R"({"x":1})",
       R"({"y":2})",
       L,
       R"({"x":1,"y":2})",
       {}},
      {"local deletes a field the remote kept",
       R"({"a":1,"b":2})",
       R"({"b":2})",
       R"({"a":1,"b":2,"c":3})",
       L,
       R"({"b":2,"c":3})",
       {}},
      {"remote deletes a field the local kept",
       R"({"a":1,"b":2})",
       R"({"a":1,"b":2,"c":3})",
       R"({"b":2})",
       L,
       R"({"b":2,"c":3})",
       {}},
      {"local changes a field the remote deleted",
       R"({"a":1})",
       R"({"a":2})",
       R"({})",
       R,
       R"({})",
       {"/a"}},
      {"nested objects merge field by field",
       R"({"p":{"x":1,"y":1},"q":0})",
       R"({"p":{"x":2,"y":1},"q":0})",
       R"({"p":{"x":1,"y":3},"q":1})",
       L,
       R"({"p":{"x":2,"y":3},"q":1})",
       {}},
      {"nested conflict reports its path",
       R"({"p":{"x":1}})",
       R"({"p":{"x":2}})",
       R"({"p":{"x":3}})",
       R,
       R"({"p":{"x":3}})",
       {"/p/x"}},
      {"objects created on both sides merge",
       R"({})",
       R"({"p":{"a":1}})",
       R"({"p":{"b":2}})",
       L,
       R"({"p":{"a":1,"b":2}})",
       {}},
      {"arrays are values, not merged",
       R"({"t":[1,2]})",
       R"({"t":[1,2,3]})",
       R"({"t":[0,1,2]})",
       L,
       R"({"t":[1,2,3]})",
       {"/t"}},
      {"array changed on one side only",
       R"({"t":[1]})",
       R"({"t":[1]})",
       R"({"t":[1,9]})",
       L,
       R"({"t":[1,9]})",
       {}},
      {"object replaced by a scalar on one side",
       R"({"p":{"x":1}})",
       R"({"p":7})",
       R"({"p":{"x":1}})",
       R,
       R"({"p":7})",
       {}},
      {"no base: both created the document",
       nullptr,
       R"({"a":1,"b":2})",
       R"({"a":1,"c":3})",
       L,
       R"({"a":1,"b":2,"c":3})",
       {}},
      {"local deleted, remote unchanged", R"({"a":1})", nullptr, R"({"a":1})", R, nullptr, {}},
      {"remote deleted, local unchanged", R"({"a":1})", R"({"a":1})", nullptr, L, nullptr, {}},
      {"local deleted, remote changed, local wins",
       R"({"a":1})",
       nullptr,
       R"({"a":2})",
       L,
       nullptr,
       {"/"}},
      {"local deleted, remote changed, remote wins",
       R"({"a":1})",
       nullptr,
       R"({"a":2})",
       R,
       R"({"a":2})",
       {"/"}},
      {"remote deleted, local changed, local wins",
       R"({"a":1})",
       R"({"a":2})",
       nullptr,
       L,
       R"({"a":2})",
       {"/"}},
      {"both deleted", R"({"a":1})", nullptr, nullptr, L, nullptr, {}},
  };
  for (const auto& c : cases) {
    auto base = parse_or_null(c.base);
    auto local = parse_or_null(c.local);
    auto remote = parse_or_null(c.remote);
    MergeResult result = three_way_merge(base.get(), local.get(), remote.get(), c.tiebreak);
    if (c.merged == nullptr) {
      EXPECT_FALSE(result.document) << c.name << ": got " << to_json(*result.document);
    } else {
      ASSERT_TRUE(result.document) << c.name;
      JsonDocument expected;
      ASSERT_FALSE(parse_json(c.merged, expected));
      EXPECT_TRUE(*result.document == expected)
          << c.name << ": got " << to_json(*result.document) << ", want " << c.merged;
    }
    EXPECT_EQ(result.conflicts, c.conflicts) << c.name;
  }
}

// {"a":{"a":...{"a":LEAF}}}: `depth` objects.
std::string nested_objects(size_t depth, const std::string& leaf) {
  std::string out;
  for (size_t i = 0; i < depth; ++i) out += R"({"a":)";
  return out + leaf + std::string(depth, '}');
}

// The deepest documents syncd holds, changed at the bottom on both sides: merged field by
// field down there, and the path of a field changed on both sides named in full.
TEST(ThreeWayMerge, AtTheCeiling) {
  const size_t depth = kMaxJsonDepth - 1;
  auto base = parse_or_null(nested_objects(depth, R"({"x":1,"y":1})").c_str());
  auto local = parse_or_null(nested_objects(depth, R"({"x":2,"y":1})").c_str());
  auto remote = parse_or_null(nested_objects(depth, R"({"x":3,"y":2})").c_str());
  MergeResult merged = three_way_merge(base.get(), local.get(), remote.get(), Tiebreak::local);
  ASSERT_TRUE(merged.document);
  EXPECT_EQ(to_json(*merged.document), nested_objects(depth, R"({"x":2,"y":2})"));
  std::string path;
  for (size_t i = 0; i < depth; ++i) path += "/a";
  EXPECT_EQ(merged.conflicts, std::vector<std::string>{path + "/x"});
}

// Past the ceiling a side cannot be read (an older syncd stored it), so there is nothing
// to walk. It must not count as "deleted" either: the conflict is kept for a person.
TEST(ThreeWayMerge, ASideTooDeepToReadIsKeptForAPersonNotMergedAsDeleted) {
  const std::string too_deep = nested_objects(kMaxJsonDepth, "{}");
  Mutation m;
  m.op = MutationOp::put;
  m.payload = R"({"v":1})";
  for (int side = 0; side < 3; ++side) {
    Mutation mutation = m;
    Conflict conflict{R"({"v":0})", R"({"v":2})", "7"};
    if (side == 0) conflict.base_data = too_deep;
    if (side == 1) mutation.payload = too_deep;
    if (side == 2) conflict.remote_data = too_deep;
    ConflictDecision d = resolve_conflict(ConflictPolicy{}, mutation, conflict);
    EXPECT_EQ(d.action, ConflictDecision::Action::keep) << side;
    EXPECT_EQ(d.outcome, "manual") << side;
  }
}

}  // namespace
}  // namespace syncd
