#include "daemon/rpc_handler.h"

#include <gtest/gtest.h>

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
  DaemonInfo info_{"client-1", 0};
  Metrics metrics_;
  Methods methods_{docs_, queue_, writes_, clock_, info_, metrics_};
  RpcHandler handler_{methods_, metrics_};
  Subscriptions subscriptions_;
  std::vector<ChangeEvent> changes_;

  // Handles one frame in its own transaction and returns the parsed answer.
  JsonDocument call(const std::string& frame, std::string* raw = nullptr) {
    CallContext ctx{subscriptions_, changes_};
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

TEST_F(RpcHandlerTest, FailureResponseCoversEveryAnsweredRequest) {
  HandledFrame frame;
  frame.batch = true;
  frame.ids = {"1", "\"x\""};
  JsonDocument doc;
  ASSERT_FALSE(
      parse_json(RpcHandler::failure_response(frame, -32000, "storage_full", "disk full"), doc));
  ASSERT_EQ(doc.Size(), 2u);
  EXPECT_EQ(doc[1]["id"].GetString(), std::string("x"));
  EXPECT_EQ(reason(doc[0]), "storage_full");
}

}  // namespace
}  // namespace syncd
