#include "sync/three_way_merge.h"

#include <gtest/gtest.h>

#include <chrono>

#include "sync/conflict_resolver.h"
#include "tests/test_support.h"

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

// 40,000 keys on each side: 12 s of the loop with a lookup per key and RapidJSON's
// quadratic operator==, about 25 ms walking the sorted members side by side.
TEST(ThreeWayMerge, WideDocumentsAreNotQuadratic) {
  std::string base = "{", local = "{", remote = "{";
  for (int i = 0; i < 40000; ++i) {
    const std::string key = "\"k" + std::to_string(i) + "\":";
    base += key + "0,";
    local += key + (i % 2 ? "1," : "0,");
    remote += key + (i % 3 ? "0," : "2,");
  }
  auto b = parse_or_null((base + R"("gone":0})").c_str());
  auto l = parse_or_null((local + R"("mine":1})").c_str());
  auto r = parse_or_null((remote + R"("gone":0,"theirs":1})").c_str());
  const auto start = std::chrono::steady_clock::now();
  MergeResult merged = three_way_merge(b.get(), l.get(), r.get(), Tiebreak::remote);
  EXPECT_LT(testing::elapsed_ms(start), 1000.0 * testing::kSlowBuild);
  ASSERT_TRUE(merged.document);
  const JsonDocument& m = *merged.document;
  EXPECT_EQ(m.MemberCount(), 40002u) << "every key, gone deleted locally, mine and theirs added";
  EXPECT_EQ(m["k1"].GetInt(), 1) << "changed locally only";
  EXPECT_EQ(m["k3"].GetInt(), 2) << "changed on both sides: the remote tiebreak";
  EXPECT_EQ(m["k4"].GetInt(), 0);
  EXPECT_EQ(m["k6"].GetInt(), 2) << "changed remotely only";
  EXPECT_FALSE(m.HasMember("gone"));
  EXPECT_EQ(merged.conflicts.size(), 6667u);  // odd multiples of 3 below 40,000
  EXPECT_EQ(merged.conflicts.front(), "/k10005");
}

// {"k0":0,...,"k899":0,"zz":{...the same, `depth` levels...,"zz":LEAF}}
std::string deep_and_wide(int depth, int keys, int leaf) {
  std::string level = "{";
  for (int i = 0; i < keys; ++i) level += "\"k" + std::to_string(i) + "\":0,";
  std::string out;
  for (int d = 0; d < depth; ++d) out += level + "\"zz\":";
  return out + std::to_string(leaf) + std::string(depth, '}');
}

// 64 levels of 900 keys (500 KB), changed on both sides at the bottom only: comparing
// whole subtrees at every level took 12 s; equality found on the way up, about 10 ms.
TEST(ThreeWayMerge, DeepAndWideDocumentsAreLinear) {
  auto b = parse_or_null(deep_and_wide(64, 900, 0).c_str());
  auto l = parse_or_null(deep_and_wide(64, 900, 1).c_str());
  auto r = parse_or_null(deep_and_wide(64, 900, 2).c_str());
  const auto start = std::chrono::steady_clock::now();
  MergeResult merged = three_way_merge(b.get(), l.get(), r.get(), Tiebreak::local);
  EXPECT_LT(testing::elapsed_ms(start), 200.0 * testing::kSlowBuild);
  ASSERT_TRUE(merged.document);
  auto expected = parse_or_null(deep_and_wide(64, 900, 1).c_str());
  EXPECT_TRUE(json_equal(*merged.document, *expected)) << "the local tiebreak at the bottom";
  std::string path;
  for (int d = 0; d < 64; ++d) path += "/zz";
  EXPECT_EQ(merged.conflicts, std::vector<std::string>{path});
  // Unchanged on one side: that side's document is taken as it is, in its own order.
  auto reordered = parse_or_null(R"({"b":1,"a":{"y":1,"x":1}})");
  auto base = parse_or_null(R"({"a":{"x":1,"y":1},"b":1})");
  auto changed = parse_or_null(R"({"a":{"x":2,"y":1},"b":1})");
  MergeResult taken = three_way_merge(base.get(), reordered.get(), changed.get(), Tiebreak::local);
  EXPECT_EQ(to_json(*taken.document), R"({"a":{"x":2,"y":1},"b":1})");
  EXPECT_TRUE(taken.conflicts.empty());
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
