// The CouchDB adapter's bodies: revisions derived from mutations, the _bulk_docs request
// and answer, and _changes pages, including every answer of the wrong shape.
#include "sync/couchdb/bodies.h"

#include <gtest/gtest.h>

#include "util/json.h"

namespace syncd::couchdb {
namespace {

Mutation mutation(std::string id, MutationOp op, std::optional<std::string> base,
                  std::optional<std::string> payload) {
  Mutation m;
  m.id = std::move(id);
  m.collection = "notes";
  m.doc_id = "a/b";
  m.op = op;
  m.base_version = std::move(base);
  m.payload = std::move(payload);
  return m;
}

const char* kId = "0190d6c4-2f8e-7a1b-9c3d-4e5f60718293";
const char* kHex = "0190d6c42f8e7a1b9c3d4e5f60718293";

TEST(CouchDbRevisions, AMutationWritesTheNextGenerationNamedByItsId) {
  MutationRevision r;
  ASSERT_FALSE(revision_of(mutation(kId, MutationOp::put, std::nullopt, "{}"), r));
  EXPECT_EQ(r.text(), std::string("1-") + kHex);
  EXPECT_FALSE(r.base);
  ASSERT_FALSE(revision_of(mutation(kId, MutationOp::put, "41-abc", "{}"), r));
  EXPECT_EQ(r.text(), std::string("42-") + kHex);
  EXPECT_EQ(r.base->hash, "abc");
  MutationRevision again;
  ASSERT_FALSE(revision_of(mutation(kId, MutationOp::put, "41-abc", "{}"), again));
  EXPECT_EQ(again.text(), r.text()) << "a resend is the same revision";
}

TEST(CouchDbRevisions, ABaseThatIsNotARevisionOrAnIdThatIsNotAUuidIsNamed) {
  MutationRevision r;
  auto error = revision_of(mutation(kId, MutationOp::put, "17", "{}"), r);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("\"17\" is not a CouchDB revision"), std::string::npos) << *error;
  error = revision_of(mutation("m1", MutationOp::put, std::nullopt, "{}"), r);
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "mutation id m1 is not a UUID");
  EXPECT_TRUE(revision_of(mutation(kId, MutationOp::put, "18446744073709551615-a", "{}"), r));
}

TEST(CouchDbRevisions, ParsingIsStrict) {
  EXPECT_TRUE(parse_revision("1-a"));
  EXPECT_EQ(parse_revision("12-abc")->generation, 12u);
  for (const char* bad :
       {"", "1", "-a", "1-", "01-a", "a-b", "1-a b", "99999999999999999999-a", "1-\x7f"}) {
    EXPECT_FALSE(parse_revision(bad)) << bad;
  }
  EXPECT_FALSE(parse_revision("1-" + std::string(129, 'a')));
}

TEST(CouchDbRevisions, AnyOtherRevisionPulledIsTheServersWinner) {
  EXPECT_TRUE(revision_newer("3-a", "2-z"));
  EXPECT_TRUE(revision_newer("2-x", "3-ours")) << "a live leaf beats our deletion";
  EXPECT_FALSE(revision_newer("2-a", "2-a")) << "our own push coming back";
}

TEST(CouchDbBulkDocs, ABodyCarriesTheRevisionTreeAndTheUsersFields) {
  std::vector<Mutation> batch = {mutation(kId, MutationOp::put, "2-base", R"({"t":1,"n":{"x":2}})"),
                                 mutation(kId, MutationOp::put, std::nullopt, "{}"),
                                 mutation(kId, MutationOp::del, "5-old", std::nullopt)};
  std::vector<MutationRevision> revisions(3);
  for (size_t i = 0; i < 3; ++i) ASSERT_FALSE(revision_of(batch[i], revisions[i]));
  const std::string body = build_bulk_docs_body(batch, revisions);
  JsonDocument doc;
  ASSERT_FALSE(parse_json(body, doc)) << body;
  EXPECT_FALSE(doc["new_edits"].GetBool());
  const JsonValue& docs = doc["docs"];
  ASSERT_EQ(docs.Size(), 3u);
  EXPECT_EQ(to_json(docs[0]), std::string(R"({"_id":"notes/a/b","_rev":"3-)") + kHex +
                                  R"(","_revisions":{"start":3,"ids":[")" + kHex +
                                  R"(","base"]},"t":1,"n":{"x":2}})");
  EXPECT_EQ(to_json(docs[1]), std::string(R"({"_id":"notes/a/b","_rev":"1-)") + kHex +
                                  R"(","_revisions":{"start":1,"ids":[")" + kHex + R"("]}})");
  EXPECT_TRUE(docs[2]["_deleted"].GetBool());
  EXPECT_EQ(docs[2]["_revisions"]["ids"][1].GetString(), std::string("old"));
}

TEST(CouchDbBulkDocs, AnEmptyAnswerAppliesAllAndAPerDocumentErrorRejectsOne) {
  std::vector<Mutation> batch = {
      mutation(kId, MutationOp::put, std::nullopt, "{}"),
      mutation("0190d6c4-2f8e-7a1b-9c3d-4e5f60718294", MutationOp::put, std::nullopt, "{}")};
  batch[1].doc_id = "c";
  std::vector<MutationRevision> revisions(2);
  for (size_t i = 0; i < 2; ++i) ASSERT_FALSE(revision_of(batch[i], revisions[i]));
  std::vector<PushResult> out;
  ASSERT_FALSE(parse_bulk_docs_response("[]", batch, revisions, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, PushResult::Kind::applied);
  EXPECT_EQ(out[0].id, kId);
  EXPECT_EQ(out[1].version, revisions[1].text());
  ASSERT_FALSE(parse_bulk_docs_response(
      R"([{"id":"notes/a/b","ok":true,"error":null},{"id":"notes/c","error":"forbidden","reason":"no \u001b[31m"}])",
      batch, revisions, out));
  EXPECT_EQ(out[0].kind, PushResult::Kind::applied);
  EXPECT_EQ(out[1].kind, PushResult::Kind::rejected);
  EXPECT_EQ(out[1].error, "forbidden: no ?[31m") << "server text is made printable";
}

TEST(CouchDbBulkDocs, EveryMalformedAnswerIsNamedAndAppliesNothing) {
  std::vector<Mutation> batch = {mutation(kId, MutationOp::put, std::nullopt, "{}")};
  std::vector<MutationRevision> revisions(1);
  ASSERT_FALSE(revision_of(batch[0], revisions[0]));
  struct Case {
    const char* body;
    const char* error;
  } cases[] = {
      {"<html>", "_bulk_docs answer is not JSON"},
      {"{}", "_bulk_docs answer is not an array"},
      {"[1]", "a _bulk_docs result is not an object"},
      {R"([{"error":"x"}])", "a _bulk_docs result has no string id"},
      {R"([{"id":"notes/z","error":"x"}])", "a _bulk_docs result for document notes/z, not sent"},
      {R"([{"id":"notes/a/b"},{"id":"notes/a/b"}])", "two _bulk_docs results for notes/a/b"},
      {"[[[[[[[[[[]]]]]]]]]]", "_bulk_docs answer is not JSON"},
  };
  for (const Case& c : cases) {
    std::vector<PushResult> out;
    auto error = parse_bulk_docs_response(c.body, batch, revisions, out);
    ASSERT_TRUE(error) << c.body;
    EXPECT_EQ(error->rfind(c.error, 0), 0u) << *error;
    EXPECT_TRUE(out.empty());
  }
}

TEST(CouchDbChanges, APageBecomesChangesWithTheUsersJsonOnly) {
  PullPage page;
  ASSERT_FALSE(parse_changes_response(
      R"({"results":[)"
      R"({"seq":3,"id":"notes/a/b","changes":[{"rev":"2-x"}],"doc":{"_id":"notes/a/b","_rev":"2-x","_conflicts":["2-w"],"t":1}},)"
      R"({"seq":4,"id":"notes/c","changes":[{"rev":"3-y"}],"deleted":true,"doc":{"_id":"notes/c","_rev":"3-y","_deleted":true}},)"
      R"({"seq":5,"id":"_design/app","changes":[{"rev":"1-d"}],"doc":{"_id":"_design/app"}},)"
      R"({"seq":6,"id":"plain","changes":[{"rev":"1-p"}],"doc":{"_id":"plain"}}],"last_seq":6})",
      10, 64, page));
  ASSERT_EQ(page.changes.size(), 2u);
  EXPECT_EQ(page.changes[0].collection, "notes");
  EXPECT_EQ(page.changes[0].doc_id, "a/b") << "split at the first '/'";
  EXPECT_EQ(page.changes[0].version, "2-x");
  EXPECT_EQ(*page.changes[0].data, R"({"t":1})");
  EXPECT_FALSE(page.changes[1].data);
  EXPECT_EQ(page.changes[1].version, "3-y");
  EXPECT_EQ(page.passed_over, 2u) << "a design document and a foreign id";
  EXPECT_EQ(page.cursor, "6");
  EXPECT_FALSE(page.has_more) << "4 results of a limit of 10";
}

TEST(CouchDbChanges, HasMoreIsPendingWhenSentElseAFullPage) {
  PullPage full;
  ASSERT_FALSE(
      parse_changes_response(R"({"results":[{"id":"_design/x"}],"last_seq":7})", 1, 64, full));
  EXPECT_TRUE(full.has_more);
  PullPage couch;
  ASSERT_FALSE(parse_changes_response(
      R"({"results":[{"id":"_design/x"}],"last_seq":"7-g1AAAA","pending":0})", 1, 64, couch));
  EXPECT_FALSE(couch.has_more) << "CouchDB's pending says no more";
  EXPECT_EQ(couch.cursor, "7-g1AAAA");
  EXPECT_EQ(since_parameter(couch.cursor), "7-g1AAAA");
  EXPECT_EQ(since_parameter("1-a/b+c"), "1-a%2Fb%2Bc");
}

TEST(CouchDbChanges, ADocumentTooDeepOrWithAKeyTwiceIsSkippedAndTheRestStands) {
  std::string deep(70, '[');
  deep += std::string(70, ']');
  PullPage page;
  ASSERT_FALSE(parse_changes_response(
      R"({"results":[{"id":"n/deep","changes":[{"rev":"1-a"}],"doc":{"v":)" + deep +
          R"(}},{"id":"n/twice","changes":[{"rev":"1-b"}],"doc":{"k":1,"k":2}},)"
          R"({"id":"n/ok","changes":[{"rev":"1-c"}],"doc":{"k":1}}],"last_seq":3})",
      10, 64, page));
  ASSERT_EQ(page.changes.size(), 1u);
  EXPECT_EQ(page.changes[0].doc_id, "ok");
  ASSERT_EQ(page.skipped.size(), 2u);
  EXPECT_NE(page.skipped[0].find("n/deep (version 1-a) skipped"), std::string::npos)
      << page.skipped[0];
  EXPECT_NE(page.skipped[1].find("twice"), std::string::npos) << page.skipped[1];
}

TEST(CouchDbChanges, ARevisionThatIsNotNHashIsSkippedAndTheRestStands) {
  PullPage page;
  ASSERT_FALSE(parse_changes_response(
      R"({"results":[{"id":"n/odd","changes":[{"rev":"x"}],"doc":{"_rev":")" +
          std::string(200, 'a') +
          R"("}},{"id":"n/ok","changes":[{"rev":"1-c"}],"doc":{"k":1}}],"last_seq":2})",
      10, 64, page));
  ASSERT_EQ(page.changes.size(), 1u);
  EXPECT_EQ(page.changes[0].doc_id, "ok");
  ASSERT_EQ(page.skipped.size(), 1u);
  EXPECT_NE(page.skipped[0].find("n/odd skipped: its revision"), std::string::npos)
      << page.skipped[0];
}

TEST(CouchDbChanges, EveryMalformedPageIsNamed) {
  struct Case {
    std::string body;
    const char* error;
  } cases[] = {
      {"nope", "_changes answer is not JSON"},
      {"[]", "_changes answer is not an object"},
      {R"({"last_seq":1})", "_changes answer has no results array"},
      {R"({"results":[]})", "_changes answer has no last_seq"},
      {R"({"results":[],"last_seq":""})", "_changes answer's last_seq is empty"},
      {R"({"results":[],"last_seq":")" + std::string(9000, 'x') + R"("})",
       "_changes answer's last_seq is empty or longer than 8192 bytes"},
      {R"({"results":[{"id":"n/a","changes":[{"rev":"1-a"}]}],"last_seq":1})",
       "_changes result n/a has no doc (include_docs)"},
      {R"({"results":[{"id":"n/a","doc":{}}],"last_seq":1})",
       "_changes result n/a has no revision"},
      {R"({"results":[{"id":"n/a","changes":[{"rev":"1-a"}],"doc":[1]}],"last_seq":1})",
       "_changes result n/a has a doc that is not an object"},
      {R"({"results":[7],"last_seq":1})", "a _changes result is not an object"},
      {R"({"results":[{"seq":1}],"last_seq":1})", "a _changes result has no string id"},
  };
  for (const Case& c : cases) {
    PullPage page;
    auto error = parse_changes_response(c.body, 10, 64, page);
    ASSERT_TRUE(error) << c.body;
    EXPECT_EQ(error->rfind(c.error, 0), 0u) << *error;
  }
}

TEST(CouchDbFields, AReservedFieldIsTheFirstTopLevelUnderscore) {
  EXPECT_EQ(reserved_field(R"({"a":{"_x":1},"_rev":"1-a"})"), "_rev");
  EXPECT_FALSE(reserved_field(R"({"a_b":1,"n":{"_x":1}})"));
}

}  // namespace
}  // namespace syncd::couchdb
