// The CouchDB adapter's requests and how it reads their answers.
#include "sync/couchdb/couchdb_protocol.h"

#include <gtest/gtest.h>

#include "tests/sync/fakes/held_transport.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

HttpResponse status(int code, std::string body = "") {
  HttpResponse r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

Mutation put(std::string id, std::string doc_id, std::optional<std::string> base,
             std::string payload = "{}") {
  Mutation m;
  m.id = std::move(id);
  m.collection = "notes";
  m.doc_id = std::move(doc_id);
  m.base_version = std::move(base);
  m.payload = std::move(payload);
  return m;
}

const char* kId1 = "0190d6c4-2f8e-7a1b-9c3d-4e5f60718291";
const char* kId2 = "0190d6c4-2f8e-7a1b-9c3d-4e5f60718292";

class CouchDbProtocolRequests : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("c.db"));
  testing::HeldTransport http_;
  FakeClock clock_{1'800'000'000'000};
  Credentials credentials_{http_, *db_, clock_, CredentialSettings{"tok", "", "", "", "", "", ""}};
  CouchDbProtocol couch_{http_, credentials_, clock_, CouchDbSettings{"http://h/db", 50, 64}};
};

TEST_F(CouchDbProtocolRequests, APushIsOneBulkDocsWithoutNewEditsAnd201IsOk) {
  std::optional<PushAnswer> got;
  couch_.push({put(kId1, "a", std::nullopt, R"({"t":1})")}, [&](PushAnswer a) { got = a; });
  ASSERT_EQ(http_.pending.size(), 1u);
  const HttpRequest& r = http_.pending[0].request;
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "http://h/db/_bulk_docs");
  EXPECT_NE(r.body.find(R"("new_edits":false)"), std::string::npos) << r.body;
  EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "Authorization: Bearer tok"),
            r.headers.end());
  http_.pending[0].done(status(201, "[]"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::ok);
  ASSERT_EQ(got->results.size(), 1u);
  EXPECT_EQ(got->results[0].version, "1-0190d6c42f8e7a1b9c3d4e5f60718291");
}

TEST_F(CouchDbProtocolRequests, AMutationCouchDbCannotTakeIsRefusedAloneWithoutARequest) {
  std::optional<PushAnswer> got;
  // A base version from protocol v1, and a field CouchDB reserves (stored before the
  // write-time check): each is a dead letter saying why; the third is sent.
  couch_.push({put(kId1, "a", "17"), put(kId2, "b", std::nullopt, R"({"_rev":"1-x"})"),
               put("0190d6c4-2f8e-7a1b-9c3d-4e5f60718293", "c", std::nullopt)},
              [&](PushAnswer a) { got = a; });
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_EQ(http_.pending[0].request.body.find("notes/a"), std::string::npos);
  EXPECT_NE(http_.pending[0].request.body.find("notes/c"), std::string::npos);
  http_.pending[0].done(status(201, "[]"));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->results.size(), 3u);
  EXPECT_EQ(got->results[0].kind, PushResult::Kind::rejected);
  EXPECT_NE(got->results[0].error.find("not a CouchDB revision"), std::string::npos);
  EXPECT_EQ(got->results[1].kind, PushResult::Kind::rejected);
  EXPECT_NE(got->results[1].error.find("\"_rev\" is reserved"), std::string::npos)
      << got->results[1].error;
  EXPECT_EQ(got->results[2].kind, PushResult::Kind::applied);

  // A patch whose server document was deleted reaches the protocol as a put of nothing.
  got.reset();
  Mutation gone = put(kId1, "a", "2-x");
  gone.payload.reset();
  couch_.push({gone}, [&](PushAnswer a) { got = a; });
  ASSERT_TRUE(got) << "nothing sent";
  EXPECT_EQ(got->results[0].kind, PushResult::Kind::rejected);
  EXPECT_NE(got->results[0].error.find("deleted on the server"), std::string::npos);

  got.reset();
  couch_.push({put(kId1, "a", "17")}, [&](PushAnswer a) { got = a; });
  EXPECT_EQ(http_.pending.size(), 1u) << "nothing left to send: no request";
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::ok);
  EXPECT_EQ(got->results.size(), 1u);
}

TEST_F(CouchDbProtocolRequests, APushAnswerOfTheWrongShapeIsRetryableAndAppliesNothing) {
  std::optional<PushAnswer> got;
  couch_.push({put(kId1, "a", std::nullopt)}, [&](PushAnswer a) { got = a; });
  http_.pending[0].done(status(201, R"({"ok":true})"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::retryable);
  EXPECT_EQ(got->error, "invalid push answer: _bulk_docs answer is not an array");
  EXPECT_TRUE(got->results.empty());
  got.reset();
  couch_.push({put(kId1, "a", std::nullopt)}, [&](PushAnswer a) { got = a; });
  http_.pending.back().done(status(400, R"({"error":"bad_request"})"));
  EXPECT_EQ(got->kind, AnswerKind::rejected) << "the engine halves the batch to find it";
}

TEST_F(CouchDbProtocolRequests, EveryDocumentUnauthorizedIsRefusedCredentialsNotDeadLetters) {
  std::optional<PushAnswer> got;
  const char* refused = R"({"error":"unauthorized","reason":"You are not authorized"})";
  auto entry = [&](const char* id) {
    std::string e = refused;
    return R"({"id":")" + std::string(id) + "\"," + e.substr(1);
  };
  couch_.push({put(kId1, "a", std::nullopt), put(kId2, "b", std::nullopt)},
              [&](PushAnswer a) { got = a; });
  http_.pending.back().done(status(201, "[" + entry("notes/a") + "," + entry("notes/b") + "]"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::unauthorised);
  EXPECT_NE(got->error.find("check auth.token"), std::string::npos) << got->error;
  EXPECT_TRUE(got->results.empty());
  // One document alone refused so: a validation function's throw({unauthorized}) about
  // it as likely as missing credentials, and a dead letter says which.
  got.reset();
  couch_.push({put(kId1, "a", std::nullopt)}, [&](PushAnswer a) { got = a; });
  http_.pending.back().done(status(201, "[" + entry("notes/a") + "]"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::ok);
  EXPECT_EQ(got->results[0].kind, PushResult::Kind::rejected);
  // One of two refused: a validation function's word about that document.
  got.reset();
  couch_.push({put(kId1, "a", std::nullopt), put(kId2, "b", std::nullopt)},
              [&](PushAnswer a) { got = a; });
  http_.pending.back().done(status(201, "[" + entry("notes/b") + "]"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::ok);
  EXPECT_EQ(got->results[0].kind, PushResult::Kind::applied);
  EXPECT_EQ(got->results[1].kind, PushResult::Kind::rejected);
}

TEST_F(CouchDbProtocolRequests, BasicAuthIsSentWhenThereIsNoBearerToken) {
  Credentials basic{http_, *db_, clock_,
                    CredentialSettings{"", "", "", "", "", "", "boss:s3:cret"}};
  CouchDbProtocol couch{http_, basic, clock_, CouchDbSettings{"http://h/db", 50, 64}};
  couch.health([](Answer) {});
  ASSERT_EQ(http_.pending.size(), 1u);
  const auto& h = http_.pending[0].request.headers;
  EXPECT_NE(std::find(h.begin(), h.end(), "Authorization: Basic Ym9zczpzMzpjcmV0"), h.end());
  EXPECT_STREQ(basic.state(), "ok");
  // A refusal names the keys in use, not auth.token.
  std::optional<PushAnswer> got;
  couch.push({put(kId1, "a", std::nullopt)}, [&](PushAnswer a) { got = a; });
  http_.pending.back().done(status(401, R"({"error":"unauthorized"})"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::unauthorised);
  EXPECT_NE(got->error.find("(check auth.username and auth.password_file)"), std::string::npos)
      << got->error;
}

TEST_F(CouchDbProtocolRequests, APullAsksForChangesWithDocumentsSinceTheCursor) {
  std::optional<PullAnswer> got;
  couch_.pull("12-g1AA/x", {"notes"}, [&](PullAnswer a) { got = a; });
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_EQ(http_.pending[0].request.url,
            "http://h/db/_changes?style=main_only&include_docs=true&limit=50&since=12-g1AA%2Fx");
  http_.pending[0].done(status(404, R"({"error":"not_found","reason":"no_db_file"})"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::retryable);
  EXPECT_NE(got->error.find("no CouchDB database there"), std::string::npos) << got->error;
}

TEST_F(CouchDbProtocolRequests, AnUnreadablePageIsNarrowedToTheOneChangeAndThatIsPassedOver) {
  std::optional<PullAnswer> got;
  couch_.pull("4", {}, [&](PullAnswer a) { got = a; });
  const std::string not_json = "{\"results\":[{\"v\":\"\\ud800\"}]";  // a lone surrogate
  for (const char* limit : {"limit=50", "limit=6", "limit=1"}) {
    ASSERT_EQ(http_.pending.size(), 1u) << limit;
    EXPECT_NE(http_.pending[0].request.url.find(std::string(limit) + "&since=4"), std::string::npos)
        << http_.pending[0].request.url;
    auto p = std::move(http_.pending.front());
    http_.pending.pop_front();
    p.done(status(200, not_json));
    EXPECT_FALSE(got) << "narrowed within the one pull";
  }
  // The change alone, without its document: passed over, named, and the cursor past it.
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_EQ(http_.pending[0].request.url, "http://h/db/_changes?style=main_only&limit=1&since=4");
  http_.pending[0].done(status(
      200, R"({"results":[{"id":"notes/bad","changes":[{"rev":"2-x"}],"seq":5}],"last_seq":5})"));
  http_.pending.clear();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::ok);
  EXPECT_EQ(got->page.cursor, "5");
  EXPECT_TRUE(got->page.has_more);
  ASSERT_EQ(got->page.skipped.size(), 1u);
  EXPECT_NE(got->page.skipped[0].find("pulled change notes/bad (version 2-x) skipped: its document "
                                      "cannot be read: _changes answer is not JSON"),
            std::string::npos)
      << got->page.skipped[0];
  // Pages grow back after each page read.
  couch_.pull("5", {}, [](PullAnswer) {});
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_NE(http_.pending[0].request.url.find("limit=1&"), std::string::npos);
  http_.pending[0].done(status(200, R"({"results":[],"last_seq":5})"));
  http_.pending.clear();
  couch_.pull("5", {}, [](PullAnswer) {});
  EXPECT_NE(http_.pending[0].request.url.find("limit=2&"), std::string::npos);
}

TEST_F(CouchDbProtocolRequests, APageOverTheBodyCapIsNarrowedToo) {
  std::optional<PullAnswer> got;
  couch_.pull("0", {}, [&](PullAnswer a) { got = a; });
  HttpResponse cut;
  cut.error = "response larger than http.max_response_bytes (1024 bytes, decoded)";
  cut.too_large = true;
  http_.pending[0].done(cut);
  http_.pending.pop_front();
  ASSERT_EQ(http_.pending.size(), 1u);
  EXPECT_NE(http_.pending[0].request.url.find("limit=6&"), std::string::npos);
  EXPECT_FALSE(got);
}

TEST_F(CouchDbProtocolRequests, HealthIsADatabaseThatNamesItself) {
  std::optional<Answer> got;
  couch_.health([&](Answer a) { got = a; });
  EXPECT_EQ(http_.pending[0].request.url, "http://h/db");
  http_.pending[0].done(status(200, R"({"couchdb":"Welcome"})"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->kind, AnswerKind::retryable) << "the server's root, not a database";
  EXPECT_NE(got->error.find("no db_name"), std::string::npos) << got->error;
  got.reset();
  couch_.health([&](Answer a) { got = a; });
  http_.pending.back().done(status(200, R"({"db_name":"db","update_seq":3})"));
  EXPECT_EQ(got->kind, AnswerKind::ok);
}

}  // namespace
}  // namespace syncd
