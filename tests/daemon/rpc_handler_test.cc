#include "daemon/rpc_handler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "tests/test_support.h"

namespace syncd {
namespace {

class RpcHandlerTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("r.db"));
  DocumentStore docs_{*db_};
  MutationQueue queue_{*db_};
  FakeClock clock_;
  Xoshiro256 random_{5};
  Uuid7Generator ids_{clock_, random_};
  LocalWrites writes_{docs_, queue_, ids_, clock_, 1000};
  DaemonInfo info_{"client-1", 0, {}};
  Metrics metrics_;
  Methods methods_{docs_, queue_, writes_, clock_, ids_, info_, metrics_};
  RpcHandler handler_{methods_, metrics_, 64};
  Subscriptions subscriptions_;
  std::vector<ChangeEvent> changes_;
  int64_t peer_uid_ = -1;
  std::optional<CollectionAccess> access_;

  // Handles one frame in its own transaction and returns the parsed answer.
  JsonDocument call(const std::string& frame, std::string* raw = nullptr) {
    CallContext ctx{subscriptions_, changes_, 0, peer_uid_, access_ ? &*access_ : nullptr};
    Transaction tx(*db_);
    HandledFrame handled = handler_.handle_frame(frame, ctx);
    tx.commit();
    if (raw) *raw = handled.response;
    JsonDocument doc;
    if (!handled.response.empty()) {
      EXPECT_FALSE(parse_json(handled.response, doc));
    }
    return doc;
  }
  static std::string req(int id, const std::string& method, const std::string& params) {
    return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method +
           R"(","params":)" + params + "}";
  }
  static int code(const JsonValue& answer) { return answer["error"]["code"].GetInt(); }
  static std::string reason(const JsonValue& answer) {
    return answer["error"]["data"]["reason"].GetString();
  }
};

TEST_F(RpcHandlerTest, OnlyRootOrSyncdsOwnUserMayInstallCredentials) {
  peer_uid_ = static_cast<int64_t>(::geteuid()) + 4242;
  for (const char* method : {"auth.set_token", "auth.login"}) {
    JsonDocument r = call(req(1, method, R"({"token":"t","client_secret":"s"})"));
    ASSERT_TRUE(r.HasMember("error")) << to_json(r);
    EXPECT_EQ(reason(r), "forbidden") << method;
    EXPECT_NE(
        std::string(r["error"]["message"].GetString()).find("not uid " + std::to_string(peer_uid_)),
        std::string::npos)
        << to_json(r);
  }
  // syncd's own user gets past that check (here to "no sync engine", the test has none).
  peer_uid_ = static_cast<int64_t>(::geteuid());
  JsonDocument r = call(req(2, "auth.set_token", R"({"token":"t"})"));
  EXPECT_EQ(reason(r), "internal") << to_json(r);
}

TEST_F(RpcHandlerTest, GrantsLimitEveryMethodToTheCollectionsTheyName) {
  ASSERT_TRUE(
      call(req(1, "put", R"({"collection":"public","id":"p","data":{}})")).HasMember("result"));
  ASSERT_TRUE(call(req(2, "put", R"({"collection":"secret","id":"s","data":{"pin":1}})"))
                  .HasMember("result"));
  ASSERT_TRUE(
      call(req(3, "put", R"({"collection":"drafts","id":"d","data":{}})")).HasMember("result"));
  peer_uid_ = 4242;
  access_ = CollectionAccess::for_peer({IpcGrant{4242, -1, {"public"}, {"drafts"}}}, 4242, 100,
                                       static_cast<int64_t>(::geteuid()));
  auto refused = [&](const std::string& method, const std::string& params) {
    JsonDocument r = call(req(9, method, params));
    return r.HasMember("error") && reason(r) == "forbidden";
  };
  EXPECT_TRUE(refused("get", R"({"collection":"secret","id":"s"})"));
  EXPECT_TRUE(refused("list", R"({"collection":"secret"})"));
  EXPECT_TRUE(refused("subscribe", R"({"collection":"secret"})"));
  EXPECT_TRUE(refused("put", R"({"collection":"public","id":"p","data":{}})")) << "read only";
  EXPECT_TRUE(refused("delete", R"({"collection":"secret","id":"s"})"));
  EXPECT_TRUE(refused("queue.retry", R"({"all":true})"));
  EXPECT_FALSE(refused("get", R"({"collection":"public","id":"p"})"));
  EXPECT_FALSE(refused("get", R"({"collection":"drafts","id":"d"})")) << "write implies read";
  EXPECT_FALSE(refused("put", R"({"collection":"drafts","id":"d2","data":{}})"));
  EXPECT_FALSE(refused("subscribe", "{}"));
  // The queue and the conflicts show only what the peer may read, and page to the end.
  std::set<std::string> seen;
  std::string after = "0";
  for (int pages = 0; pages < 10; ++pages) {
    JsonDocument page = call(req(10, "queue.list", R"({"limit":1,"after":)" + after + "}"));
    ASSERT_TRUE(page.HasMember("result")) << to_json(page);
    for (const auto& m : page["result"]["items"].GetArray())
      seen.insert(m["collection"].GetString());
    if (page["result"]["next"].IsNull()) break;
    after = std::to_string(page["result"]["next"].GetInt64());
  }
  EXPECT_EQ(seen, (std::set<std::string>{"public", "drafts"}));
  JsonDocument message = call(req(11, "get", R"({"collection":"secret","id":"s"})"));
  EXPECT_EQ(std::string(message["error"]["message"].GetString()),
            "uid 4242 may not read collection secret (ipc.grants)");
  // A peer no grant names may do nothing with documents; root and syncd's uid anything.
  access_ = CollectionAccess::for_peer({IpcGrant{4242, -1, {"*"}, {}}}, 5151, 100, 0);
  EXPECT_TRUE(refused("get", R"({"collection":"public","id":"p"})"));
  access_ = CollectionAccess::for_peer({IpcGrant{-1, 100, {}, {"*"}}}, 5151, 100, 0);
  EXPECT_FALSE(refused("put", R"({"collection":"any","id":"x","data":{}})")) << "by gid";
  access_ = CollectionAccess::for_peer({IpcGrant{4242, -1, {}, {}}}, 0, 0, 1000);
  EXPECT_FALSE(refused("get", R"({"collection":"secret","id":"s"})")) << "root";
}

TEST_F(RpcHandlerTest, AConnectionHoldsAtMostMaxSubscriptions) {
  subscriptions_.max = 2;
  EXPECT_TRUE(call(req(1, "subscribe", "{}")).HasMember("result"));
  EXPECT_TRUE(call(req(2, "subscribe", R"({"collection":"a"})")).HasMember("result"));
  JsonDocument third = call(req(3, "subscribe", R"({"collection":"b"})"));
  ASSERT_TRUE(third.HasMember("error")) << to_json(third);
  EXPECT_EQ(reason(third), "too_many_subscriptions");
  EXPECT_EQ(metrics_.subscriptions_refused, 1u);
  EXPECT_TRUE(call(req(4, "unsubscribe", R"({"subscription":1})")).HasMember("result"));
  EXPECT_TRUE(call(req(5, "subscribe", R"({"collection":"b"})")).HasMember("result"));
}

TEST_F(RpcHandlerTest, PutThenGetReturnsTheLocalViewAsPending) {
  JsonDocument put = call(req(1, "put", R"({"collection":"notes","id":"a","data":{"t":1}})"));
  ASSERT_TRUE(put.HasMember("result")) << to_json(put);
  EXPECT_EQ(put["id"].GetInt(), 1);
  EXPECT_EQ(std::string(put["result"]["mutation_id"].GetString()).size(), 36u);
  JsonDocument get = call(req(2, "get", R"({"collection":"notes","id":"a"})"));
  EXPECT_EQ(to_json(get["result"]),
            R"({"collection":"notes","id":"a","data":{"t":1},"version":null,"pending":true})");
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(*changes_[0].data, R"({"t":1})");
}

TEST_F(RpcHandlerTest, ParseErrorsAnswerWithIdNull) {
  JsonDocument a = call("{not json");
  EXPECT_EQ(code(a), -32700);
  EXPECT_EQ(reason(a), "invalid_json");
  EXPECT_TRUE(a["id"].IsNull());
  JsonDocument utf8 =
      call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get\",\"params\":{\"id\":\"\xc3\x28\"}}");
  EXPECT_EQ(code(utf8), -32700);
}

TEST_F(RpcHandlerTest, InvalidRequestsAreNamed) {
  EXPECT_EQ(code(call("5")), -32600);
  JsonDocument no_version = call(R"({"id":7,"method":"status"})");
  EXPECT_EQ(code(no_version), -32600);
  EXPECT_EQ(no_version["id"].GetInt(), 7);
  EXPECT_EQ(code(call(R"({"jsonrpc":"2.0","id":1,"method":5})")), -32600);
  EXPECT_EQ(code(call(R"({"jsonrpc":"2.0","id":{},"method":"status"})")), -32600);
  JsonDocument unknown = call(req(3, "frobnicate", "{}"));
  EXPECT_EQ(code(unknown), -32601);
  EXPECT_EQ(reason(unknown), "method_not_found");
}

TEST_F(RpcHandlerTest, WrongParamsGetInvalidParamsWithAReason) {
  struct Case {
    std::string method, params, reason;
  } cases[] = {
      {"put", R"({"collection":"notes","id":"a"})", "invalid_params"},
      {"put", R"({"collection":"notes","id":"a","data":[1]})", "invalid_document"},
      {"put", R"({"collection":"notes","id":"a","data":"x"})", "invalid_document"},
      {"put", R"({"collection":5,"id":"a","data":{}})", "invalid_params"},
      {"put", R"({"collection":"","id":"a","data":{}})", "invalid_key"},
      {"put", R"({"collection":"c","id":")" + std::string(300, 'x') + R"(","data":{}})",
       "invalid_key"},
      {"put", R"({"collection":"c","id":"a\u0001","data":{}})", "invalid_key"},
      {"put", R"({"collection":"c","id":"a","data":{"x":")" + std::string(2000, 'x') + R"("}})",
       "too_large"},
      {"put", R"([1,2])", "invalid_params"},
      {"list", R"({"collection":"c","limit":0})", "invalid_params"},
      {"list", R"({"collection":"c","limit":"ten"})", "invalid_params"},
      {"queue.list", R"({"state":"done"})", "invalid_params"},
      {"queue.retry", R"({})", "invalid_params"},
  };
  for (const auto& c : cases) {
    JsonDocument a = call(req(1, c.method, c.params));
    ASSERT_TRUE(a.HasMember("error")) << c.params;
    EXPECT_EQ(code(a), -32602) << c.params;
    EXPECT_EQ(reason(a), c.reason) << c.params;
  }
  EXPECT_EQ(queue_.counts().pending, 0) << "no bad write was queued";
}

TEST_F(RpcHandlerTest, MissingDocumentsAreNotFound) {
  JsonDocument a = call(req(1, "get", R"({"collection":"notes","id":"zz"})"));
  EXPECT_EQ(code(a), -32004);
  EXPECT_EQ(reason(a), "not_found");
  EXPECT_EQ(std::string(a["error"]["message"].GetString()), "no document notes/zz");
  EXPECT_EQ(code(call(req(2, "patch", R"({"collection":"notes","id":"zz","data":{}})"))), -32004);
  EXPECT_EQ(code(call(req(3, "delete", R"({"collection":"notes","id":"zz"})"))), -32004);
}

TEST_F(RpcHandlerTest, NotificationsAreExecutedButNotAnswered) {
  std::string raw = "x";
  call(R"({"jsonrpc":"2.0","method":"put","params":{"collection":"c","id":"n","data":{}}})", &raw);
  EXPECT_EQ(raw, "");
  EXPECT_TRUE(docs_.find("c", "n"));
  call(R"({"jsonrpc":"2.0","method":"nope"})", &raw);
  EXPECT_EQ(raw, "") << "not even errors are answered";
}

TEST_F(RpcHandlerTest, BatchesAnswerInOrderAndSkipNotifications) {
  JsonDocument a =
      call("[" + req(1, "put", R"({"collection":"c","id":"a","data":{"v":1}})") + "," +
           R"({"jsonrpc":"2.0","method":"put","params":{"collection":"c","id":"b","data":{}}},)" +
           req(2, "get", R"({"collection":"c","id":"missing"})") + ",42," +
           req(3, "get", R"({"collection":"c","id":"a"})") + "]");
  ASSERT_TRUE(a.IsArray());
  ASSERT_EQ(a.Size(), 4u);
  EXPECT_EQ(a[0]["id"].GetInt(), 1);
  EXPECT_TRUE(a[0].HasMember("result"));
  EXPECT_EQ(code(a[1]), -32004);
  EXPECT_EQ(code(a[2]), -32600);
  EXPECT_EQ(to_json(a[3]["result"]["data"]), R"({"v":1})");
  EXPECT_TRUE(docs_.find("c", "b"));
}

TEST_F(RpcHandlerTest, ABatchOverMaxBatchIsRefusedWholeAndNothingOfItRuns) {
  handler_.set_max_batch(2);
  std::string batch = "[" + req(1, "put", R"({"collection":"c","id":"a","data":{}})") + "," +
                      req(2, "put", R"({"collection":"c","id":"b","data":{}})") + "," +
                      req(3, "put", R"({"collection":"c","id":"c","data":{}})") + "]";
  JsonDocument a = call(batch);
  ASSERT_TRUE(a.IsObject());
  EXPECT_EQ(code(a), -32600);
  EXPECT_EQ(reason(a), "too_large");
  EXPECT_TRUE(a["id"].IsNull());
  EXPECT_FALSE(docs_.find("c", "a"));
  handler_.set_max_batch(3);
  EXPECT_EQ(call(batch).Size(), 3u);
}

TEST_F(RpcHandlerTest, ABatchIsHandledInSlicesThatAnswerInOrder) {
  std::string batch = "[";
  for (int i = 0; i < 5; ++i) {
    if (i > 0) batch += ",";
    batch += req(i, "put", R"({"collection":"c","id":"k)" + std::to_string(i) + R"(","data":{}})");
  }
  batch += "," + std::string(R"({"jsonrpc":"2.0","method":"status"})") + "]";
  CallContext ctx{subscriptions_, changes_};
  std::unique_ptr<BatchInProgress> rest;
  std::vector<int> ids;
  auto collect = [&](const HandledFrame& part) {
    JsonDocument doc;
    ASSERT_FALSE(parse_json(part.response, doc)) << part.response;
    ASSERT_TRUE(doc.IsArray());
    for (const auto& a : doc.GetArray()) ids.push_back(a["id"].GetInt());
  };
  HandledFrame first = handler_.handle_frame(batch, ctx, 2, &rest);
  EXPECT_EQ(first.requests, 2u);
  collect(first);
  ASSERT_TRUE(rest);
  EXPECT_FALSE(docs_.find("c", "k2")) << "only the slice ran";
  HandledFrame second = handler_.continue_batch(*rest, ctx, 3);
  EXPECT_EQ(second.requests, 3u);
  collect(second);
  ASSERT_FALSE(rest->done());
  HandledFrame last = handler_.continue_batch(*rest, ctx, 3);
  EXPECT_EQ(last.requests, 1u);
  EXPECT_TRUE(last.response.empty()) << "a notification has no answer";
  EXPECT_TRUE(rest->done());
  EXPECT_EQ(ids, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(changes_.size(), 5u);
}

// A batch worked over several calls answers with its ids as the client wrote them,
// whether its rest was copied (a small frame) or kept where it was parsed (a large one),
// though the frame text they came from is gone by then.
TEST_F(RpcHandlerTest, ABatchInSlicesEchoesItsIdsExactlyAfterTheFrameIsGone) {
  for (size_t pad : {size_t{0}, size_t{70000}}) {
    const std::vector<std::string> ids = {
        "123456789012345678901234567890", "1.50", "\"s\"", "-0", "null", "7e3"};
    std::string batch = "[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) batch += ",";
      batch += R"({"jsonrpc":"2.0","id":)" + ids[i] +
               R"(,"method":"put","params":{"collection":"c","id":"x)" + std::to_string(i) +
               R"(","data":{"pad":")" + std::string(pad / ids.size(), 'p') + R"("}}})";
    }
    batch += "]";
    CallContext ctx{subscriptions_, changes_};
    std::unique_ptr<BatchInProgress> rest;
    std::string answers = handler_.handle_frame(batch, ctx, 2, &rest).response;
    std::fill(batch.begin(), batch.end(), '#');  // the frame's text goes away
    batch.clear();
    batch.shrink_to_fit();
    ASSERT_TRUE(rest);
    while (!rest->done()) answers += handler_.continue_batch(*rest, ctx, 2).response;
    for (const std::string& id : ids) {
      EXPECT_NE(answers.find(R"("id":)" + id + ","), std::string::npos)
          << "id " << id << " (pad " << pad << ") in " << answers.substr(0, 400);
    }
  }
}

TEST_F(RpcHandlerTest, ALargeBatchIsWorkedInSlicesToo) {
  // Over 64 KiB: parsed where it can be kept, not copied.
  std::string batch = "[";
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) batch += ",";
    batch += req(i, "put",
                 R"({"collection":"c","id":"k)" + std::to_string(i) + R"(","data":{"pad":")" +
                     std::string(60, 'p') + "\"}}");
  }
  batch += "]";
  ASSERT_GT(batch.size(), 64u << 10);
  CallContext ctx{subscriptions_, changes_};
  std::unique_ptr<BatchInProgress> rest;
  HandledFrame part = handler_.handle_frame(batch, ctx, 300, &rest);
  size_t answered = 0;
  int next_id = 0;
  while (true) {
    JsonDocument doc;
    ASSERT_FALSE(parse_json(part.response, doc));
    for (const auto& a : doc.GetArray()) ASSERT_EQ(a["id"].GetInt(), next_id++);
    answered += doc.Size();
    if (!rest || rest->done()) break;
    part = handler_.continue_batch(*rest, ctx, 300);
  }
  EXPECT_EQ(answered, 1000u);
  EXPECT_TRUE(docs_.find("c", "k999"));
}

TEST_F(RpcHandlerTest, AListPageEndsOnceItsDocumentsPassAMebibyte) {
  writes_.set_max_document_bytes(400000);
  const std::string big(300000, 'b');
  for (int i = 0; i < 6; ++i) {
    call(req(
        i, "put",
        R"({"collection":"c","id":"k)" + std::to_string(i) + R"(","data":{"b":")" + big + "\"}}"));
  }
  JsonDocument first = call(req(9, "list", R"({"collection":"c"})"));
  ASSERT_TRUE(first.HasMember("result"));
  EXPECT_EQ(first["result"]["items"].Size(), 4u) << "300 KB each: the fourth passes 1 MiB";
  EXPECT_EQ(std::string(first["result"]["next"].GetString()), "k3");
  JsonDocument rest = call(req(10, "list", R"({"collection":"c","after":"k3"})"));
  EXPECT_EQ(rest["result"]["items"].Size(), 2u);
  EXPECT_TRUE(rest["result"]["next"].IsNull());
}

TEST_F(RpcHandlerTest, EmptyBatchAndAllNotificationBatch) {
  EXPECT_EQ(code(call("[]")), -32600);
  std::string raw = "x";
  call(R"([{"jsonrpc":"2.0","method":"status"},{"jsonrpc":"2.0","method":"metrics"}])", &raw);
  EXPECT_EQ(raw, "");
}

TEST_F(RpcHandlerTest, StringIdsAreEchoedExactly) {
  JsonDocument a = call(R"({"jsonrpc":"2.0","id":"req-é","method":"status"})");
  EXPECT_EQ(std::string(a["id"].GetString()), "req-é");
  EXPECT_EQ(std::string(a["result"]["client_id"].GetString()), "client-1");
}

TEST_F(RpcHandlerTest, ListPagesThroughACollection) {
  for (int i = 0; i < 5; ++i) {
    call(req(i, "put", R"({"collection":"c","id":"k)" + std::to_string(i) + R"(","data":{}})"));
  }
  JsonDocument first = call(req(9, "list", R"({"collection":"c","limit":3})"));
  EXPECT_EQ(first["result"]["items"].Size(), 3u);
  EXPECT_EQ(std::string(first["result"]["next"].GetString()), "k2");
  JsonDocument rest = call(req(10, "list", R"({"collection":"c","limit":3,"after":"k2"})"));
  EXPECT_EQ(rest["result"]["items"].Size(), 2u);
  EXPECT_TRUE(rest["result"]["next"].IsNull());
}

TEST_F(RpcHandlerTest, SubscribeAndUnsubscribe) {
  JsonDocument a = call(req(1, "subscribe", R"({"collection":"notes"})"));
  EXPECT_EQ(a["result"]["subscription"].GetInt(), 1);
  call(req(2, "subscribe", "{}"));
  EXPECT_EQ(subscriptions_.filters.size(), 2u);
  EXPECT_EQ(*subscriptions_.filters[1], "notes");
  EXPECT_FALSE(subscriptions_.filters[2]);
  EXPECT_EQ(code(call(req(3, "unsubscribe", R"({"subscription":9})"))), -32004);
  EXPECT_EQ(call(req(4, "unsubscribe", "{}"))["result"]["removed"].GetInt(), 2);
}

TEST_F(RpcHandlerTest, QueueListAndRetry) {
  call(req(1, "put", R"({"collection":"c","id":"a","data":{}})"));
  JsonDocument listed = call(req(2, "queue.list", "{}"));
  ASSERT_EQ(listed["result"]["items"].Size(), 1u);
  std::string id = listed["result"]["items"][0]["id"].GetString();
  JsonDocument not_failed = call(req(3, "queue.retry", R"({"id":")" + id + R"("})"));
  EXPECT_EQ(reason(not_failed), "not_failed");
  queue_.lease(clock_.now_ms(), 10, 1 << 20);
  queue_.dead_letter(id, "rejected");
  EXPECT_EQ(call(req(4, "queue.retry", R"({"id":")" + id + R"("})"))["result"]["retried"].GetInt(),
            1);
  EXPECT_EQ(reason(call(req(5, "queue.retry", R"({"id":"nope"})"))), "not_found");
}

// "[[...]]": `depth` arrays, one inside the other.
std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// A document (an object) nesting `depth` levels of objects and arrays: {"a":[[...]]}.
std::string deep_document(size_t depth) { return R"({"a":)" + nested_arrays(depth - 1) + "}"; }

std::string put_params(const std::string& id, const std::string& data) {
  return R"({"collection":"c","id":")" + id + R"(","data":)" + data + "}";
}

TEST_F(RpcHandlerTest, ADocumentNestedPastTheLimitIsAnInvalidDocumentAnsweredWithItsId) {
  JsonDocument deep = call(req(7, "put", put_params("deep", deep_document(100000))));
  ASSERT_TRUE(deep.HasMember("error")) << to_json(deep);
  EXPECT_EQ(deep["id"].GetInt(), 7);
  EXPECT_EQ(code(deep), -32602);
  EXPECT_EQ(reason(deep), "invalid_document");
  EXPECT_EQ(std::string(deep["error"]["message"].GetString()),
            "params.data nests deeper than 64 levels of arrays and objects "
            "(store.max_document_depth)");

  EXPECT_EQ(reason(call(req(8, "put", put_params("past", deep_document(65))))), "invalid_document");
  JsonDocument at = call(req(9, "put", put_params("at", deep_document(64))));
  ASSERT_TRUE(at.HasMember("result")) << to_json(at);
  EXPECT_EQ(reason(call(req(10, "patch", put_params("at", deep_document(65))))),
            "invalid_document");
  EXPECT_EQ(reason(call(req(11, "conflicts.resolve",
                            R"({"id":"m","take":)" + deep_document(100000) + "}"))),
            "invalid_document");

  // In a batch only the deep request fails; the others are answered as usual.
  JsonDocument batch = call("[" + req(12, "put", put_params("deep", deep_document(100000))) + "," +
                            req(13, "get", R"({"collection":"c","id":"at"})") + "]");
  ASSERT_TRUE(batch.IsArray());
  ASSERT_EQ(batch.Size(), 2u);
  EXPECT_EQ(batch[0]["id"].GetInt(), 12);
  EXPECT_EQ(reason(batch[0]), "invalid_document");
  EXPECT_EQ(to_json(batch[1]["result"]["data"]), deep_document(64));
  EXPECT_FALSE(docs_.find("c", "deep"));
  EXPECT_FALSE(docs_.find("c", "past"));
  EXPECT_EQ(queue_.counts().pending, 1) << "only the put at the limit was queued";
}

TEST_F(RpcHandlerTest, DeepNestingOutsideParamsIsNotWalked) {
  // An unknown member of the request is ignored, however deep; the request is served.
  JsonDocument a =
      call(R"({"jsonrpc":"2.0","id":1,"method":"status","x":)" + nested_arrays(100000) + "}");
  EXPECT_TRUE(a.HasMember("result")) << to_json(a);
  JsonDocument b = call(R"({"jsonrpc":"2.0","id":2,"method":)" + nested_arrays(100000) + "}");
  EXPECT_EQ(code(b), -32600);
  EXPECT_EQ(b["id"].GetInt(), 2);
  JsonDocument c = call(nested_arrays(100000));  // a batch of one array, not a request
  ASSERT_TRUE(c.IsArray() && c.Size() == 1) << to_json(c);
  EXPECT_EQ(code(c[0]), -32600);
}

TEST_F(RpcHandlerTest, DuplicateKeysAreRefusedWhereverTheyAre) {
  struct Case {
    std::string frame;
    int code;
    std::string reason, message;
  } cases[] = {
      {req(1, "put", put_params("a", R"({"t":1,"t":2})")), -32602, "invalid_document",
       R"(params.data has the key "t" twice)"},
      {req(2, "put", put_params("a", R"({"x":{"b":[0,{"k":1,"j":2,"k":3}]}})")), -32602,
       "invalid_document", R"(params.data/x/b/1 has the key "k" twice)"},
      {req(3, "put", R"({"collection":"c","id":"a","id":"b","data":{}})"), -32602, "invalid_params",
       R"(params has the key "id" twice)"},
      {R"({"jsonrpc":"2.0","id":4,"method":"get","method":"put","params":{}})", -32600,
       "invalid_request", R"(the request has the key "method" twice)"},
  };
  for (const auto& c : cases) {
    JsonDocument a = call(c.frame);
    ASSERT_TRUE(a.HasMember("error")) << c.frame;
    EXPECT_EQ(code(a), c.code) << c.frame;
    EXPECT_EQ(reason(a), c.reason) << c.frame;
    EXPECT_EQ(std::string(a["error"]["message"].GetString()), c.message) << c.frame;
  }
  // Keys that differ only after a NUL byte are different keys.
  JsonDocument nul = call(req(5, "put", put_params("n", R"({"a\u0000x":1,"a\u0000y":2})")));
  EXPECT_TRUE(nul.HasMember("result")) << to_json(nul);
  EXPECT_EQ(queue_.counts().pending, 1) << "no write with a duplicate key was queued";
}

TEST_F(RpcHandlerTest, IdsAreEchoedExactlyAsTheClientWroteThem) {
  for (std::string id :
       {"123456789012345678901234567890", "-98765432109876543210", "18446744073709551616", "1.50",
        "1e2", "-0", "0.1", "3.141592653589793238462643383279", "\"req-\\u00e9\"", "\"a\\\"b\"",
        "null", "7"}) {
    std::string raw;
    call(R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"status"})", &raw);
    EXPECT_EQ(raw.rfind(R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":)", 0), 0u) << raw;
    call(R"({"jsonrpc":"2.0", "id" : )" + id + R"( ,"method":"nope"})", &raw);
    EXPECT_EQ(raw.rfind(R"({"jsonrpc":"2.0","id":)" + id + R"(,"error":)", 0), 0u) << raw;
    call(R"([{"jsonrpc":"2.0","method":"status","id":)" + id + "}]", &raw);
    EXPECT_EQ(raw.rfind(R"([{"jsonrpc":"2.0","id":)" + id + R"(,"result":)", 0), 0u) << raw;
  }
}

TEST_F(RpcHandlerTest, AStoredDocumentDeeperThanSyncdReadsIsAnErrorNotACrash) {
  {
    Transaction tx(*db_);
    docs_.set_local_view("c", "old", deep_document(100000), 0);
    docs_.set_local_view("c", "mid", deep_document(200), 0);
    tx.commit();
  }
  JsonDocument get = call(req(1, "get", R"({"collection":"c","id":"old"})"));
  EXPECT_EQ(code(get), -32603);
  EXPECT_EQ(reason(get), "corrupt_document");
  JsonDocument patch = call(req(2, "patch", put_params("old", R"({"x":1})")));
  EXPECT_EQ(code(patch), -32603);
  EXPECT_EQ(code(call(req(3, "list", R"({"collection":"c"})"))), -32603);
  // Deeper than the limit for new input but stored before (a lower limit now): served.
  JsonDocument mid = call(req(4, "get", R"({"collection":"c","id":"mid"})"));
  EXPECT_EQ(to_json(mid["result"]["data"]), deep_document(200));
  JsonDocument patched = call(req(5, "patch", put_params("mid", R"({"x":1})")));
  EXPECT_TRUE(patched.HasMember("result")) << to_json(patched);
  EXPECT_TRUE(call(req(6, "status", "{}")).HasMember("result"));
}

TEST_F(RpcHandlerTest, FailureResponseCoversEveryAnsweredRequest) {
  HandledFrame frame;
  frame.batch = true;
  frame.ids = {"123456789012345678901234567890", "\"x\""};
  JsonDocument doc;
  ASSERT_FALSE(
      parse_json(RpcHandler::failure_response(frame, -32000, "storage_full", "disk full"), doc));
  ASSERT_EQ(doc.Size(), 2u);
  EXPECT_EQ(doc[1]["id"].GetString(), std::string("x"));
  EXPECT_EQ(reason(doc[0]), "storage_full");
  EXPECT_NE(RpcHandler::failure_response(frame, -32000, "storage_full", "disk full")
                .find(R"("id":123456789012345678901234567890,)"),
            std::string::npos);
}

}  // namespace
}  // namespace syncd
