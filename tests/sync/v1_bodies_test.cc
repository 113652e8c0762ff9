#include "sync/v1/bodies.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(PushProtocol, BuildsTheV1BodyWithPayloadsAsTheyAre) {
  Mutation put;
  put.id = "m1";
  put.collection = "notes";
  put.doc_id = "a";
  put.op = MutationOp::put;
  put.payload = R"({"t":1})";
  Mutation del = put;
  del.id = "m2";
  del.op = MutationOp::del;
  del.base_version = "7";
  del.payload.reset();
  EXPECT_EQ(
      build_push_body("c1", {put, del}),
      R"({"client_id":"c1","mutations":[)"
      R"({"id":"m1","collection":"notes","doc_id":"a","op":"put","base_version":null,"data":{"t":1}},)"
      R"({"id":"m2","collection":"notes","doc_id":"a","op":"delete","base_version":"7","data":null}]})");
}

TEST(PushProtocol, ParsesTheThreeKindsOfResult) {
  std::vector<PushResult> out;
  ASSERT_FALSE(parse_push_response(
      R"({"results":[{"id":"a","status":"applied","version":17},)"
      R"({"id":"b","status":"conflict","current":{"version":"5","data":{"x":1},"deleted":false}},)"
      R"({"id":"c","status":"conflict","current":{"version":"6","data":null,"deleted":true}},)"
      R"({"id":"d","status":"rejected","error":"no"}]})",
      out));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].version, "17") << "numeric versions become strings";
  EXPECT_EQ(*out[1].current_data, R"({"x":1})");
  EXPECT_EQ(*out[1].current_version, "5");
  EXPECT_FALSE(out[2].current_data);
  EXPECT_EQ(out[3].error, "no");
}

TEST(PushProtocol, EveryMalformedPushAnswerIsNamed) {
  struct Case {
    const char* body;
    const char* error;
  } cases[] = {
      {"<html>", "push answer is not JSON"},
      {"[]", "push answer is not an object"},
      {"{}", "push answer has no results array"},
      {R"({"results":[5]})", "a push result is not an object"},
      {R"({"results":[{"status":"applied"}]})", "a push result has no string id"},
      {R"({"results":[{"id":"a"}]})", "push result a has no status"},
      {R"({"results":[{"id":"a","status":"applied"}]})", "applied result a has no version"},
      {R"({"results":[{"id":"a","status":"conflict"}]})",
       "conflict result a has no current document"},
      {R"({"results":[{"id":"a","status":"conflict","current":{"version":"1","data":[1]}}]})",
       "conflict result a has non-object data"},
      {R"({"results":[{"id":"a","status":"maybe"}]})", "push result a has unknown status maybe"},
      {R"({"results":[{"id":"a","status":"applied","version":"abc"}]})",
       "applied result a has version \"abc\": a version is a decimal integer"},
      {R"({"results":[{"id":"a","status":"applied","version":-3}]})", "has version \"-3\""},
      {R"({"results":[{"id":"a","status":"applied","version":"007"}]})", "has version \"007\""},
      {R"({"results":[{"id":"a","status":"applied","version":1.5}]})",
       "applied result a has no version"},
      {R"({"results":[{"id":"a","status":"conflict","current":{"version":"v2","data":null}}]})",
       "conflict result a has version \"v2\""},
  };
  for (const auto& c : cases) {
    std::vector<PushResult> out;
    auto error = parse_push_response(c.body, out);
    ASSERT_TRUE(error) << c.body;
    EXPECT_NE(error->find(c.error), std::string::npos) << *error;
  }
}

TEST(PushProtocol, PullAnswersAreCheckedToo) {
  PullPage page;
  ASSERT_FALSE(parse_pull_response(
      R"({"changes":[{"collection":"c","doc_id":"a","version":"3","data":{"v":1},"deleted":false},)"
      R"({"collection":"c","doc_id":"b","version":4,"data":null,"deleted":true}],"cursor":4,"has_more":true})",
      page, 64));
  ASSERT_EQ(page.changes.size(), 2u);
  EXPECT_EQ(*page.changes[0].data, R"({"v":1})");
  EXPECT_FALSE(page.changes[1].data);
  EXPECT_EQ(page.cursor, "4");
  EXPECT_TRUE(page.has_more);
  for (
      const char* bad :
      {"nope", R"({"cursor":"1","has_more":false})", R"({"changes":[],"has_more":false})",
       R"({"changes":[],"cursor":"1"})",
       R"({"changes":[{"doc_id":"a","version":"1"}],"cursor":"1","has_more":false})",
       R"({"changes":[{"collection":"c","doc_id":"a"}],"cursor":"1","has_more":false})",
       R"({"changes":[{"collection":"c","doc_id":"a","version":"1","data":"x"}],"cursor":"1","has_more":false})",
       R"({"changes":[{"collection":"c","doc_id":"a","version":"abc","data":{}}],"cursor":"1","has_more":false})",
       R"({"changes":[{"collection":"c","doc_id":"","version":"1","data":{}}],"cursor":"1","has_more":false})",
       R"({"changes":[{"collection":"c\u0000","doc_id":"a","version":"1","data":{}}],"cursor":"1","has_more":false})",
       R"({"changes":[],"cursor":"","has_more":false})"}) {
    PullPage p;
    EXPECT_TRUE(parse_pull_response(bad, p, 64)) << bad;
  }
}

// A change nested one level past the limit, or with a key twice, is left out and named;
// one at the limit, and the rest of the page, stand.
TEST(PushProtocol, PulledChangesTooDeepOrWithAKeyTwiceAreSkippedAndNamed) {
  auto change = [](const char* id, const std::string& data) {
    return std::string(R"({"collection":"c","doc_id":")") + id + R"(","version":"7","data":)" +
           data + "}";
  };
  auto nested = [](size_t depth) {  // an object nesting `depth` levels
    return R"({"a":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  PullPage page;
  ASSERT_FALSE(parse_pull_response(
      R"({"changes":[)" + change("at", nested(5)) + "," + change("past", nested(6)) + "," +
          change("far", nested(100000)) + "," + change("twice", R"({"x":[{"k":1,"k":2}]})") + "," +
          change("ok", R"({"v":1})") + R"(],"cursor":"9","has_more":false})",
      page, 5));
  ASSERT_EQ(page.changes.size(), 2u);
  EXPECT_EQ(page.changes[0].doc_id, "at");
  EXPECT_EQ(*page.changes[0].data, nested(5));
  EXPECT_EQ(page.changes[1].doc_id, "ok");
  EXPECT_EQ(page.cursor, "9");
  const std::string too_deep =
      " (version 7) skipped: its data nests deeper than 5 levels of arrays and objects "
      "(store.max_document_depth)";
  EXPECT_EQ(page.skipped,
            (std::vector<std::string>{
                "pulled change c/past" + too_deep,
                "pulled change c/far" + too_deep,
                R"(pulled change c/twice (version 7) skipped: its data/x/0 has the key "k" twice)",
            }));
}

// Found by the pull_answer fuzz target: a skipped change's message (last_error, status)
// carried the control bytes of the server's keys.
TEST(PushProtocol, ASkippedPulledChangeIsNamedInPrintableText) {
  PullPage page;
  ASSERT_FALSE(parse_pull_response(
      R"({"changes":[{"collection":"c","doc_id":"d","version":"7",)"
      R"("data":{"\u001b]0;x\u0007":{"k":1,"k":2}}}],"cursor":"9","has_more":false})",
      page, 5));
  ASSERT_EQ(page.skipped.size(), 1u);
  for (unsigned char c : page.skipped[0]) {
    EXPECT_TRUE(c >= 0x20 && c != 0x7f) << "byte " << int(c) << " in " << page.skipped[0];
  }
  EXPECT_EQ(
      page.skipped[0],
      R"(pulled change c/d (version 7) skipped: its data/\u001b]0;x\u0007 has the key "k" twice)");
}

TEST(PushProtocol, ServerTextInResultsIsCutAndPrintable) {
  std::vector<PushResult> out;
  const std::string error = "bad\\u001b[31m\\u0000" + std::string(5000, 'x');
  ASSERT_FALSE(parse_push_response(
      R"({"results":[{"id":"a","status":"rejected","error":")" + error + R"("}]})", out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_LE(out[0].error.size(), kMaxServerMessageBytes + 3);
  EXPECT_EQ(out[0].error.substr(0, 10), "bad?[31m?x");
  std::vector<PushResult> none;
  auto named =
      parse_push_response(R"({"results":[{"id":"\u001b]0;owned\u0007","status":"x"}]})", none);
  ASSERT_TRUE(named);
  EXPECT_EQ(named->find('\x1b'), std::string::npos) << *named;
}

TEST(PushProtocol, EachMutationSentNeedsExactlyOneResult) {
  const std::vector<std::string> batch = {"m1", "m2", "m3"};
  auto result = [](const std::string& id) {
    PushResult r;
    r.id = id;
    r.version = "1";
    return r;
  };
  std::vector<PushResult> shuffled = {result("m3"), result("m1"), result("m2")};
  ASSERT_FALSE(match_results(batch, shuffled));
  EXPECT_EQ(shuffled[0].id, "m1");
  EXPECT_EQ(shuffled[2].id, "m3");
  struct Case {
    std::vector<PushResult> results;
    const char* error;
  } cases[] = {
      {{}, "no result for 3 of the 3 mutations sent (m1 first)"},
      {{result("m1"), result("m3")}, "no result for 1 of the 3 mutations sent (m2 first)"},
      {{result("m1"), result("m2"), result("m3"), result("zz")},
       "a result for unknown mutation zz"},
      {{result("m1"), result("m1"), result("m2"), result("m3")}, "two results for mutation m1"},
  };
  for (auto& c : cases) {
    const size_t before = c.results.size();
    auto error = match_results(batch, c.results);
    ASSERT_TRUE(error) << c.error;
    EXPECT_EQ(*error, c.error);
    EXPECT_EQ(c.results.size(), before) << "left as it was";
  }
}

TEST(PushProtocol, VersionsAreDecimalIntegers) {
  for (const char* good : {"0", "7", "17", "18446744073709551615"}) EXPECT_TRUE(is_version(good));
  for (const char* bad : {"", "abc", "-1", "+1", "01", "1.5", "1e3", " 1", "123456789012345678901"})
    EXPECT_FALSE(is_version(bad)) << bad;
}

TEST(PushProtocol, VersionOrder) {
  EXPECT_TRUE(version_newer("10", "9"));
  EXPECT_FALSE(version_newer("9", "10"));
  EXPECT_FALSE(version_newer("5", "5"));
  EXPECT_TRUE(version_newer("etag-b", "etag-a")) << "opaque versions: any difference is news";
}

TEST(PushProtocol, AConflictWithADocumentSyncdCannotHoldIsARejectionSayingWhy) {
  std::string deep = "1";
  for (int i = 0; i < 10; ++i) deep = "{\"a\":" + deep + "}";
  std::vector<PushResult> out;
  ASSERT_FALSE(parse_push_response(
      R"({"results":[{"id":"m1","status":"conflict","current":{"version":"4","data":)" + deep +
          R"(}},{"id":"m2","status":"conflict","current":{"version":"5","data":{"k":1,"k":2}}},)"
          R"({"id":"m3","status":"conflict","current":{"version":"6","data":{"ok":1}}}]})",
      out, 8));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, PushResult::Kind::rejected);
  EXPECT_NE(out[0].error.find("store.max_document_depth"), std::string::npos) << out[0].error;
  EXPECT_FALSE(out[0].current_data) << "not kept: it would reach the local view";
  EXPECT_EQ(out[1].kind, PushResult::Kind::rejected);
  EXPECT_NE(out[1].error.find("twice"), std::string::npos) << out[1].error;
  EXPECT_EQ(out[2].kind, PushResult::Kind::conflict);
  EXPECT_EQ(out[2].current_data, R"({"ok":1})");

  // The path to the problem is the server's text: the message stays within the cap.
  std::string key = "\"";  // 300 control bytes, each shown as \u0001 (six bytes)
  for (int i = 0; i < 300; ++i) key += "\\u0001";
  key += "\"";
  std::string long_path = "{" + key + ":1," + key + ":2}";
  for (int i = 0; i < 3; ++i) long_path = "{" + key + ":" + long_path + "}";
  out.clear();
  ASSERT_FALSE(parse_push_response(
      R"({"results":[{"id":"m1","status":"conflict","current":{"version":"4","data":)" + long_path +
          "}}]}",
      out, 8));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, PushResult::Kind::rejected);
  EXPECT_LE(out[0].error.size(), kMaxServerMessageBytes + 3)
      << "found by the push_answer fuzz target";
}

TEST(PushProtocol, AConflictWithADocumentButNoVersionIsAnInvalidAnswer) {
  std::vector<PushResult> out;
  auto error = parse_push_response(
      R"({"results":[{"id":"m1","status":"conflict","current":{"data":{"a":1}}}]})", out);
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "conflict result m1 has a current document but no version");
  out.clear();
  EXPECT_FALSE(parse_push_response(
      R"({"results":[{"id":"m1","status":"conflict","current":{"version":null,"data":null,"deleted":true}}]})",
      out))
      << "no document: no version is right";
}

TEST(PushProtocol, APulledChangeThatIsNeitherADocumentNorADeletionIsSkippedNotADeletion) {
  PullPage page;
  ASSERT_FALSE(parse_pull_response(
      R"({"changes":[{"collection":"c","doc_id":"a","version":"3","deleted":false},)"
      R"({"collection":"c","doc_id":"b","version":"4","data":null,"deleted":true}],)"
      R"("cursor":"4","has_more":false})",
      page, 64));
  ASSERT_EQ(page.changes.size(), 1u);
  EXPECT_EQ(page.changes[0].doc_id, "b");
  EXPECT_FALSE(page.changes[0].data) << "a deletion";
  ASSERT_EQ(page.skipped.size(), 1u);
  EXPECT_EQ(page.skipped[0],
            "pulled change c/a (version 3) skipped: it has no data and is not deleted");
}

}  // namespace
}  // namespace syncd
