#include "util/json.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

std::string merged(const std::string& target, const std::string& patch) {
  JsonDocument t, p;
  EXPECT_FALSE(parse_json(target, t));
  EXPECT_FALSE(parse_json(patch, p));
  apply_merge_patch(t, p, t.GetAllocator());
  return to_json(t);
}

// The examples of RFC 7386, Appendix A.
TEST(MergePatch, Rfc7386AppendixA) {
  struct Case {
    const char* target;
    const char* patch;
    const char* result;
  } cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", R"(null)", R"(null)"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(merged(c.target, c.patch), c.result) << c.target << " + " << c.patch;
  }
}

TEST(ParseJson, RejectsTrailingDataInvalidUtf8AndReportsTheOffset) {
  JsonDocument doc;
  EXPECT_FALSE(parse_json(R"({"a":1}  )", doc));
  auto trailing = parse_json(R"({"a":1} {"b":2})", doc);
  ASSERT_TRUE(trailing);
  EXPECT_NE(trailing->find("offset 8"), std::string::npos) << *trailing;
  auto bad_utf8 = parse_json("{\"a\":\"\xff\xfe\"}", doc);
  ASSERT_TRUE(bad_utf8);
  EXPECT_NE(bad_utf8->find("offset"), std::string::npos);
  EXPECT_TRUE(parse_json("", doc));
  EXPECT_TRUE(parse_json("{\"a\":1", doc));
}

TEST(ParseJson, RelaxedAllowsCommentsAndTrailingCommas) {
  JsonDocument doc;
  EXPECT_FALSE(parse_json_relaxed("// c\n{\"a\": 1, /* x */ \"b\": [1,2,],}\n", doc));
  EXPECT_EQ(doc["b"].Size(), 2u);
  EXPECT_TRUE(parse_json("{\"a\": 1, }", doc));
}

TEST(FormatTime, Rfc3339Utc) {
  EXPECT_EQ(format_rfc3339_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_utc(1795723804999), "2026-11-26T20:10:04Z");
}

}  // namespace
}  // namespace syncd
