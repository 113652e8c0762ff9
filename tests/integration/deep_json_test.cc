// Invariant 7 for depth: a document nested 100,000 deep, from a client or from the
// server, is refused with a clear error and syncd keeps serving (issue 8, defect 2).
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

constexpr size_t kDeep = 100000;

std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

JsonDocument parse_line(const std::optional<std::string>& line) {
  JsonDocument doc;
  if (line) {
    EXPECT_FALSE(parse_json(*line, doc)) << *line;
  }
  return doc;
}

TEST(DeepJson, APutNested100000DeepIsAnInvalidDocumentAndSyncdKeepsServing) {
  TempDir dir;
  Syncd syncd(dir);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  const std::string frame =
      R"({"jsonrpc":"2.0","id":1,"method":"put","params":{"collection":"c","id":"deep",)"
      R"("data":{"a":)" +
      nested_arrays(kDeep - 1) + "}}}\n";
  ASSERT_LT(frame.size(), 1u << 20) << "under the default frame limit";
  ASSERT_TRUE(client.send_raw(frame));
  JsonDocument answer = parse_line(client.read_line());
  ASSERT_TRUE(answer.IsObject() && answer.HasMember("error")) << syncd.log();
  EXPECT_EQ(answer["id"].GetInt(), 1);
  EXPECT_EQ(answer["error"]["code"].GetInt(), -32602);
  EXPECT_EQ(std::string(answer["error"]["data"]["reason"].GetString()), "invalid_document");
  EXPECT_NE(std::string(answer["error"]["message"].GetString()).find("store.max_document_depth"),
            std::string::npos);

  EXPECT_TRUE(client.call("status").HasMember("result")) << "the same connection is served";
  Client other(syncd.socket());
  EXPECT_TRUE(
      other.call("put", R"({"collection":"c","id":"ok","data":{"v":1}})").HasMember("result"));
  EXPECT_EQ(other.call("get", R"({"collection":"c","id":"deep"})")["error"]["code"].GetInt(),
            -32004);
  EXPECT_TRUE(syncd.process()->running());
}

TEST(DeepJson, TheLimitIsTheConfiguredOne) {
  TempDir dir;
  Syncd syncd(dir, R"({"store": {"max_document_depth": 3}})");
  CommandResult check =
      run_command({syncd_bin(), "--config", syncd.config_path(), "--check-config"});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE((check.out + check.err).find("store.max_document_depth"), std::string::npos);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  EXPECT_TRUE(
      client.call("put", R"({"collection":"c","id":"at","data":{"a":[[1]]}})").HasMember("result"));
  JsonDocument past = client.call("put", R"({"collection":"c","id":"past","data":{"a":[[[1]]]}})");
  ASSERT_TRUE(past.HasMember("error"));
  EXPECT_EQ(std::string(past["error"]["message"].GetString()),
            "params.data nests deeper than 3 levels of arrays and objects "
            "(store.max_document_depth)");
}

}  // namespace
}  // namespace syncd::testing
