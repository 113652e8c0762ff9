#include "util/json.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "tests/test_support.h"

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

// Found by the json_reader fuzz target (tests/fuzz): RapidJSON 1.1.0 read a 19-digit
// mantissa with a large exponent as infinity without an error, and to_json then wrote
// broken text (the writer cannot write infinity).
TEST(ParseJson, ANumberTooBigForADoubleIsAnErrorNotInfinity) {
  for (const char* text : {"[-9223372036854775801e308]", "[9223372036854775807e308]",
                           "[18446744073709551615e300]", "[1e400]", "[-1.5e309]"}) {
    JsonDocument doc;
    auto error = parse_json(text, doc);
    ASSERT_TRUE(error) << text << " read as " << to_json(doc);
    EXPECT_NE(error->find("too big"), std::string::npos) << *error;
  }
  JsonDocument tiny;  // too small is zero, as before
  ASSERT_FALSE(parse_json("[1e-400,-1e-400,5e-324]", tiny));
  EXPECT_EQ(to_json(tiny), "[0.0,-0.0,5e-324]");
}

// Found by the merge_patch and three_way_merge fuzz targets: RapidJSON's fast number
// reading is off by a few units in the last place, so a number a client wrote came back
// as another one, and a value serialised and read again compared unequal to itself.
TEST(ParseJson, NumbersAreReadExactlySoTheyRoundTrip) {
  for (const char* text :
       {"2332336744073237275809", "1.2222222222222225e95", "0.1", "1.7976931348623157e308",
        "-4.9406564584124654e-324", "123456789012345678901234567890", "9007199254740993"}) {
    JsonDocument doc;
    ASSERT_FALSE(parse_json(text, doc)) << text;
    EXPECT_EQ(doc.GetDouble(), std::strtod(text, nullptr)) << text;
    JsonDocument again;
    ASSERT_FALSE(parse_json(to_json(doc), again)) << to_json(doc);
    EXPECT_TRUE(json_equal(doc, again)) << text << " -> " << to_json(doc);
  }
  JsonDocument ints;  // integers keep their types
  ASSERT_FALSE(parse_json("[-1,4294967295,-9223372036854775808,18446744073709551615,-0]", ints));
  EXPECT_TRUE(ints[0].IsInt());
  EXPECT_TRUE(ints[1].IsUint() && !ints[1].IsInt());
  EXPECT_TRUE(ints[2].IsInt64() && !ints[2].IsInt());
  EXPECT_TRUE(ints[3].IsUint64() && !ints[3].IsInt64());
  EXPECT_EQ(to_json(ints), "[-1,4294967295,-9223372036854775808,18446744073709551615,0]");
}

// Found by the json_reader and merge_patch fuzz targets: RapidJSON 1.1.0 decodes an
// escaped lone low surrogate ("\udc00") into bytes that are not UTF-8, so a document
// that passed the parse was stored as text syncd itself then refused to read.
TEST(ParseJson, AnEscapedLoneSurrogateIsAnErrorNotInvalidUtf8) {
  for (const char* text :
       {R"(["\udc00"])", R"({"\udfff":1})", R"(["a\udeeeb"])", "[\"\xed\xa0\x80\"]"}) {
    JsonDocument doc;
    auto error = parse_json(text, doc);
    EXPECT_TRUE(error) << text << " read as " << to_json(doc);
  }
  JsonDocument pair;  // a whole pair is one code point
  ASSERT_FALSE(parse_json(R"(["\ud83d\ude00","\u00e9\u20ac"])", pair));
  EXPECT_EQ(to_json(pair), "[\"\xf0\x9f\x98\x80\",\"\xc3\xa9\xe2\x82\xac\"]");
}

// `depth` arrays, one inside the other.
std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// {"a":{"a":...{"a":LEAF}}}: `depth` objects.
std::string nested_objects(size_t depth, const std::string& leaf) {
  std::string out;
  for (size_t i = 0; i < depth; ++i) out += R"({"a":)";
  out += leaf;
  out += std::string(depth, '}');
  return out;
}

TEST(ParseJson, NestsUpToTheLimitAndNoFurtherWithoutRecursion) {
  JsonDocument doc;
  EXPECT_FALSE(parse_json(nested_arrays(kMaxJsonDepth), doc)) << "at the ceiling";
  auto past = parse_json(nested_arrays(kMaxJsonDepth + 1), doc);
  ASSERT_TRUE(past);
  EXPECT_EQ(*past,
            "parse error at offset 1024: nests deeper than 1024 levels of arrays and "
            "objects");
  EXPECT_TRUE(doc.IsNull()) << "nothing is half-built";
  // Deep enough to overflow the stack of a recursive parser.
  auto far = parse_json(nested_arrays(1000000), doc);
  ASSERT_TRUE(far);
  EXPECT_NE(far->find("nests deeper than 1024"), std::string::npos);

  JsonParseOptions three;
  three.max_depth = 3;
  EXPECT_FALSE(parse_json(R"({"a":[{"b":1}]})", doc, three));
  EXPECT_TRUE(parse_json(R"({"a":[{"b":[]}]})", doc, three));
  EXPECT_FALSE(parse_json(R"([1,[2,[3]],{"x":{}}])", doc, three)) << "depth, not count";
  JsonParseOptions huge;
  huge.max_depth = 1u << 30;
  EXPECT_TRUE(parse_json(nested_arrays(kMaxJsonDepth + 1), doc, huge)) << "clamped";
  three.relaxed = true;
  EXPECT_TRUE(parse_json("[[[[]]]] // deep", doc, three));
}

TEST(ParseJson, MarkingReadsPastTooDeepContainersAndKeepsTheRest) {
  JsonParseOptions options;
  options.max_depth = 2;
  options.mark_too_deep = true;
  JsonDocument doc;
  ASSERT_FALSE(parse_json(R"({"ok":[1],"deep":[[)" + nested_arrays(100000) +
                              R"x(]],"then":{"x":2},"s":"(nested too deep)"})x",
                          doc, options));
  EXPECT_EQ(to_json(doc["ok"]), "[1]");
  ASSERT_TRUE(doc["deep"].IsArray());
  ASSERT_EQ(doc["deep"].Size(), 1u);
  EXPECT_TRUE(is_too_deep(doc["deep"][0]));
  EXPECT_EQ(to_json(doc["then"]), R"({"x":2})");
  EXPECT_FALSE(is_too_deep(doc["s"])) << "a client's string is never the marker";
  EXPECT_TRUE(check_json_value(doc["deep"], 100));
  EXPECT_FALSE(check_json_value(doc["then"], 1));
  EXPECT_TRUE(parse_json(R"({"deep":[[)", doc, options)) << "syntax errors still fail";
}

// The recursive walkers of RapidJSON (Accept, operator==, CopyFrom, destruction) on the
// deepest value parse_json builds; deeper is refused before any of them runs (above).
TEST(JsonWalkers, SerialiseCompareCopyAndDestroyAtTheCeiling) {
  const std::string text = nested_objects(kMaxJsonDepth - 1, "[1]");
  auto a = std::make_unique<JsonDocument>();
  JsonDocument b;
  ASSERT_FALSE(parse_json(text, *a));
  ASSERT_FALSE(parse_json(text, b));
  EXPECT_EQ(to_json(*a), text);
  EXPECT_FALSE(to_pretty_json(*a).empty());
  EXPECT_TRUE(*a == b);
  JsonDocument copy;
  copy.CopyFrom(*a, copy.GetAllocator());
  EXPECT_EQ(to_json(copy), text);
  a.reset();
  EXPECT_EQ(to_json(copy), text) << "the copy is deep";
}

TEST(MergePatch, AtTheCeilingAndPastIt) {
  // Patch the leaf at the bottom of the deepest document syncd holds.
  JsonDocument target, patch;
  ASSERT_FALSE(parse_json(nested_objects(kMaxJsonDepth - 1, R"({"x":1,"y":2})"), target));
  ASSERT_FALSE(parse_json(nested_objects(kMaxJsonDepth - 1, R"({"x":null,"z":3})"), patch));
  apply_merge_patch(target, patch, target.GetAllocator());
  EXPECT_EQ(to_json(target), nested_objects(kMaxJsonDepth - 1, R"({"y":2,"z":3})"));
  // A new member as deep as the patch goes: copied in whole.
  JsonDocument empty;
  ASSERT_FALSE(parse_json("{}", empty));
  apply_merge_patch(empty, patch, empty.GetAllocator());
  EXPECT_EQ(to_json(empty), nested_objects(kMaxJsonDepth - 1, R"({"z":3})"));
  // Past the ceiling there is no value to walk: the patch is refused as text.
  EXPECT_TRUE(parse_json(nested_objects(kMaxJsonDepth, "{}"), patch));
}

TEST(CheckJsonValue, DepthAtTheLimitAndPastIt) {
  JsonDocument doc;
  ASSERT_FALSE(parse_json(nested_objects(63, "[]"), doc));
  EXPECT_FALSE(check_json_value(doc, 64));
  auto past = check_json_value(doc, 63);
  ASSERT_TRUE(past);
  EXPECT_EQ(past->kind, JsonProblem::Kind::too_deep);
  EXPECT_EQ(describe(*past, "params.data", 63),
            "params.data nests deeper than 63 levels of arrays and objects");
  JsonValue scalar(5);
  EXPECT_FALSE(check_json_value(scalar, 0));
}

TEST(CheckJsonValue, DuplicateKeysAnywhereWithTheirPath) {
  struct Case {
    const char* text;
    const char* found;  // nullptr: none
  } cases[] = {
      {R"({"a":1,"b":2})", nullptr},
      {R"({"a":1,"a":1})", R"( has the key "a" twice)"},
      {R"({"a":[{"x":0},{"q":{"k":1,"k":2}}]})", R"(/a/1/q has the key "k" twice)"},
      {R"({"a/b~c":{"\n":1,"\n":2}})", R"(/a~1b~0c has the key "\n" twice)"},
      {R"({"a":{"b":1},"c":{"b":1}})", nullptr},
      {R"({"a\u0000b":1,"a\u0000c":1})", nullptr},
      {R"([[{"z":1}],{"z":1}])", nullptr},
  };
  for (const auto& c : cases) {
    JsonDocument doc;
    ASSERT_FALSE(parse_json(c.text, doc)) << c.text;
    auto problem = check_json_value(doc, 64);
    if (c.found == nullptr) {
      EXPECT_FALSE(problem) << c.text;
    } else {
      ASSERT_TRUE(problem) << c.text;
      EXPECT_EQ(problem->kind, JsonProblem::Kind::duplicate_key);
      EXPECT_EQ(describe(*problem, "", 64), c.found) << c.text;
    }
  }
}

// Found by the pull_answer fuzz target: the path in a description held the keys' bytes
// as they were, so a server's key with an escape sequence reached status raw.
TEST(CheckJsonValue, TheDescriptionShowsControlBytesInThePathEscaped) {
  JsonDocument doc;
  ASSERT_FALSE(parse_json(R"({"a\u001b[2J\u007f":[{"k":1,"k":2}]})", doc));
  auto problem = check_json_value(doc, 64);
  ASSERT_TRUE(problem);
  EXPECT_EQ(describe(*problem, "data", 64), R"(data/a\u001b[2J\u007f/0 has the key "k" twice)");
}

TEST(CheckJsonValue, WideObjectsAreCheckedBySortingNotPairwise) {
  std::string wide = "{";
  for (int i = 0; i < 50000; ++i) wide += "\"k" + std::to_string(i) + "\":0,";
  JsonDocument doc;
  ASSERT_FALSE(parse_json(wide + R"("k777":1})", doc));
  auto problem = check_json_value(doc, 64);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->key, R"("k777")");
  ASSERT_FALSE(parse_json(wide + R"("last":1})", doc));
  EXPECT_FALSE(check_json_value(doc, 64));
  EXPECT_FALSE(duplicate_key(doc));
}

// {"k0":V,"k1":V,...}: `n` members, then "end".
std::string wide_object(int n, const std::string& value) {
  std::string out = "{";
  for (int i = 0; i < n; ++i) out += "\"k" + std::to_string(i) + "\":" + value + ",";
  return out + "\"end\":" + value + "}";
}

// A patch of 40,000 keys on a document of as many (430 KB, under the size limit) took
// 5.5 s of the loop with a lookup scan per key; indexed it takes about 10 ms.
TEST(MergePatch, AWidePatchOnAWideDocumentIsNotQuadratic) {
  JsonDocument target, patch;
  ASSERT_FALSE(parse_json(wide_object(40000, "0"), target));
  ASSERT_FALSE(parse_json(wide_object(40000, "1"), patch));
  patch["k7"].SetNull();
  patch.AddMember("new", 2, patch.GetAllocator());
  const auto start = std::chrono::steady_clock::now();
  apply_merge_patch(target, patch, target.GetAllocator());
  EXPECT_LT(testing::elapsed_ms(start), 1000.0 * testing::kSlowBuild);
  EXPECT_EQ(target.MemberCount(), 40001u);
  EXPECT_FALSE(target.HasMember("k7"));
  EXPECT_EQ(target["k39999"].GetInt(), 1);
  EXPECT_EQ(target["end"].GetInt(), 1);
  EXPECT_EQ(target["new"].GetInt(), 2);
  // Removals that move the last member into the hole keep the index right.
  JsonDocument removals;
  ASSERT_FALSE(parse_json(wide_object(40000, "null"), removals));
  apply_merge_patch(target, removals, target.GetAllocator());
  EXPECT_EQ(to_json(target), R"({"new":2})");
}

TEST(JsonEqual, AsRapidJsonButNotQuadratic) {
  struct Case {
    const char *a, *b;
    bool equal;
  } cases[] = {
      {R"({"a":1,"b":[1,2]})", R"({"b":[1,2],"a":1})", true},
      {R"({"a":1})", R"({"a":1.0})", true},
      {R"([1,2])", R"([2,1])", false},
      {R"({"a":1})", R"({"a":1,"b":1})", false},
      {R"({"a":{"x":"s"}})", R"({"a":{"x":"t"}})", false},
      {R"({"a":1,"a":1})", R"({"a":1,"b":1})", false},
      {"null", "false", false},
      {R"("a\u0000b")", R"("a\u0000c")", false},
  };
  for (const auto& c : cases) {
    JsonDocument a, b;
    ASSERT_FALSE(parse_json(c.a, a));
    ASSERT_FALSE(parse_json(c.b, b));
    EXPECT_EQ(json_equal(a, b), c.equal) << c.a << " vs " << c.b;
    EXPECT_EQ(json_equal(b, a), c.equal) << c.b << " vs " << c.a;
  }
  JsonDocument a, b;
  ASSERT_FALSE(parse_json(wide_object(40000, "[1]"), a));
  ASSERT_FALSE(parse_json(wide_object(40000, "[1]"), b));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(json_equal(a, b));
  EXPECT_LT(testing::elapsed_ms(start), 1000.0 * testing::kSlowBuild)
      << "RapidJSON's operator== took 6.3 s";
}

TEST(FormatTime, Rfc3339Utc) {
  EXPECT_EQ(format_rfc3339_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_utc(1795723804999), "2026-11-26T20:10:04Z");
}

TEST(WellFormedUtf8, KeepsValidSequencesAndReplacesEveryOtherByte) {
  EXPECT_EQ(well_formed_utf8("plain ascii"), "plain ascii");
  EXPECT_EQ(well_formed_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  const std::string bad = "\xEF\xBF\xBD";
  EXPECT_EQ(well_formed_utf8("a\xFF"
                             "b"),
            "a" + bad + "b");
  EXPECT_EQ(well_formed_utf8("\xC3"), bad) << "cut short";
  EXPECT_EQ(well_formed_utf8("\xC0\xAF"), bad + bad) << "overlong";
  EXPECT_EQ(well_formed_utf8("\xED\xA0\x80"), bad + bad + bad) << "a surrogate";
  EXPECT_EQ(well_formed_utf8("\xF4\x90\x80\x80"), bad + bad + bad + bad) << "past U+10FFFF";
  JsonDocument doc;
  EXPECT_FALSE(parse_json(json_quote(well_formed_utf8("x\xFE\x80y")), doc));
}

}  // namespace
}  // namespace syncd
