// Invariant 4: bad input gets a clear error and changes nothing else; one misbehaving
// client cannot stall the others.
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

constexpr const char* kSmallLimits = R"({
  "ipc": {"max_frame_bytes": 8192, "max_output_bytes": 65536},
  "store": {"max_document_bytes": 4096}
})";

JsonDocument parse_line(const std::optional<std::string>& line) {
  JsonDocument doc;
  if (line) {
    EXPECT_FALSE(parse_json(*line, doc)) << *line;
  }
  return doc;
}

std::string reason_of(const JsonDocument& answer) {
  if (!answer.IsObject() || !answer.HasMember("error")) return "(no error)";
  return answer["error"]["data"]["reason"].GetString();
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(syncd_.start()) << syncd_.log(); }
  // A well-behaved client that must keep working whatever the others do.
  void expect_healthy() {
    Client good(syncd_.socket());
    ASSERT_TRUE(good.connected());
    JsonDocument put = good.call("put", R"({"collection":"ok","id":"x","data":{"v":1}})");
    EXPECT_TRUE(put.HasMember("result"));
    JsonDocument get = good.call("get", R"({"collection":"ok","id":"x"})");
    EXPECT_EQ(to_json(get["result"]["data"]), R"({"v":1})");
  }
  TempDir dir_;
  Syncd syncd_{dir_, kSmallLimits};
};

TEST_F(BadInput, GarbageFramesGetParseErrorsAndTheConnectionStaysUsable) {
  Client bad(syncd_.socket());
  ASSERT_TRUE(bad.send_raw("{not json\n"));
  JsonDocument a = parse_line(bad.read_line());
  EXPECT_EQ(a["error"]["code"].GetInt(), -32700);
  EXPECT_TRUE(a["id"].IsNull());
  const char binary[] = "\x00\xff\xfe binary \x01\n";
  ASSERT_TRUE(bad.send_raw(std::string(binary, sizeof binary - 1)));
  EXPECT_EQ(reason_of(parse_line(bad.read_line())), "invalid_json");
  ASSERT_TRUE(
      bad.send_raw("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get\",\"params\":{\"collection\":"
                   "\"\xc3\x28\",\"id\":\"a\"}}\n"));
  EXPECT_EQ(reason_of(parse_line(bad.read_line())), "invalid_json") << "invalid UTF-8";
  JsonDocument status = bad.call("status");
  EXPECT_TRUE(status.HasMember("result")) << "same connection still served";
  expect_healthy();
}

TEST_F(BadInput, WrongParamsGetInvalidParamsAndNothingIsStored) {
  Client bad(syncd_.socket());
  EXPECT_EQ(reason_of(bad.call("put", R"({"collection":"c","id":"a","data":[1,2]})")),
            "invalid_document");
  EXPECT_EQ(reason_of(bad.call("put", R"({"collection":"c","id":""})")), "invalid_key");
  EXPECT_EQ(reason_of(bad.call("put", R"({"collection":"c","id":"a","data":{"x":")" +
                                          std::string(5000, 'y') + R"("}})")),
            "too_large");
  EXPECT_EQ(reason_of(bad.call("frobnicate")), "method_not_found");
  JsonDocument status = bad.call("status");
  EXPECT_EQ(status["result"]["queue"]["pending"].GetInt(), 0);
  expect_healthy();
}

TEST_F(BadInput, AHugeFrameIsRefusedAndItsConnectionClosed) {
  Client bad(syncd_.socket());
  Client bystander(syncd_.socket());
  ASSERT_TRUE(bystander.call("status").HasMember("result"));
  std::string huge =
      R"({"jsonrpc":"2.0","id":1,"method":"put","params":{"collection":"c","id":"a","data":{"x":")" +
      std::string(100000, 'z');
  bad.send_raw(huge);  // no newline: caught before the end of the frame
  JsonDocument a = parse_line(bad.read_line());
  EXPECT_EQ(a["error"]["code"].GetInt(), -32600);
  EXPECT_EQ(reason_of(a), "too_large");
  EXPECT_TRUE(bad.wait_closed(Millis(10000)));
  EXPECT_TRUE(bystander.call("status").HasMember("result")) << "the other client is unaffected";
  JsonDocument metrics = bystander.call("metrics");
  EXPECT_EQ(metrics["result"]["frames_oversize"].GetInt(), 1);
  expect_healthy();
}

TEST_F(BadInput, AStalledReaderDoesNotStallWritersAndLosesOnlyNotifications) {
  Client stalled(syncd_.socket());
  ASSERT_TRUE(stalled.call("subscribe").HasMember("result"));
  // From now on `stalled` never reads. Each write below sends it a ~3 KiB notification.
  Client writer(syncd_.socket());
  std::string body = std::string(3000, 'n');
  bool over_budget = false;
  for (int i = 0; i < 2000 && !over_budget; ++i) {
    JsonDocument put = writer.call("put", R"({"collection":"c","id":"d)" + std::to_string(i) +
                                              R"(","data":{"b":")" + body + R"("}})");
    ASSERT_TRUE(put.HasMember("result")) << "writer stalled at " << i;
    if (i % 50 == 49) {
      over_budget = writer.call("metrics")["result"]["notifications_dropped"].GetInt() > 0;
    }
  }
  EXPECT_TRUE(over_budget) << "the stalled client's notifications were never dropped";
  const int held = writer.call("metrics")["result"]["output_bytes"].GetInt();
  EXPECT_GT(held, 32768);
  EXPECT_LE(held, 65536) << "it holds its budget (ipc.max_output_bytes), no more";
  // It is still connected: what it reads ends with a gap notification.
  bool gap = false;
  while (auto line = stalled.read_line(Millis(10000))) {
    if (line->find(R"("method":"gap")") != std::string::npos) {
      gap = true;
      break;
    }
  }
  EXPECT_TRUE(gap);
  expect_healthy();
}

TEST_F(BadInput, AClientThatVanishesMidFrameChangesNothing) {
  {
    Client gone(syncd_.socket());
    gone.send_raw(
        R"({"jsonrpc":"2.0","id":1,"method":"put","params":{"collection":"c","id":"half")");
  }
  Client check(syncd_.socket());
  EXPECT_EQ(reason_of(check.call("get", R"({"collection":"c","id":"half"})")), "not_found");
  expect_healthy();
}

}  // namespace
}  // namespace syncd::testing
