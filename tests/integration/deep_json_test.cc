// Invariant 7 for depth: a document nested 100,000 deep, from a client or from the
// server, is refused with a clear error and syncd keeps serving (issue 8, defect 2).
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

constexpr size_t kDeep = 100000;

std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

JsonDocument parse_line(const std::optional<std::string>& line) {
  JsonDocument doc;
  if (line) {
    EXPECT_FALSE(parse_json(*line, doc)) << *line;
  }
  return doc;
}

// tests/integration/pull_page_server.py: answers the first pull with a page file.
class PullPageServer {
 public:
  PullPageServer(const TempDir& dir, const std::string& page)
      : page_path_(dir.file("page.json")),
        port_path_(dir.file("page_server.port")),
        log_path_(dir.file("page_server.log")) {
    write_file(page_path_, page);
  }
  ~PullPageServer() {
    if (process_ && process_->running()) process_->signal(SIGKILL);
  }
  bool start() {
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/python3",
                                 source_dir() + "/tests/integration/pull_page_server.py", "--page",
                                 page_path_, "--port-file", port_path_},
        log_path_, log_path_);
    return wait_until([&] { return port() > 0 || !process_->running(); }, Millis(20000)) &&
           port() > 0;
  }
  int port() const { return std::atoi(read_file(port_path_).c_str()); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  std::string log() const { return read_file(log_path_); }

 private:
  std::string page_path_, port_path_, log_path_;
  std::unique_ptr<Process> process_;
};

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

TEST(DeepJson, APulledDocumentNested100000DeepIsSkippedAndSyncdStaysUpAcrossRestarts) {
  TempDir dir;
  PullPageServer server(
      dir, R"({"changes":[)"
           R"({"collection":"c","doc_id":"a","version":"1","data":{"v":1},"deleted":false},)"
           R"({"collection":"c","doc_id":"deep","version":"2","data":{"x":)" +
               nested_arrays(kDeep) +
               R"(},"deleted":false},)"
               R"({"collection":"c","doc_id":"b","version":"3","data":{"v":3},"deleted":false}],)"
               R"("cursor":"3","has_more":false})");
  ASSERT_TRUE(server.start()) << server.log();
  Syncd syncd(dir, "", {}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  auto has = [&](const char* id) {
    JsonDocument got = client.call("get", std::string(R"({"collection":"c","id":")") + id + "\"}");
    return got.IsObject() && got.HasMember("result");
  };
  ASSERT_TRUE(wait_until([&] { return has("b") || !syncd.process()->running(); }, Millis(15000)));
  ASSERT_TRUE(syncd.process()->running()) << syncd.log();
  EXPECT_TRUE(has("a")) << "the rest of the page applied";
  EXPECT_TRUE(has("b"));
  EXPECT_FALSE(has("deep"));
  JsonDocument status = client.call("status");
  ASSERT_TRUE(status.HasMember("result"));
  const std::string last_error = status["result"]["last_error"].IsString()
                                     ? status["result"]["last_error"].GetString()
                                     : "(none)";
  EXPECT_NE(last_error.find("c/deep"), std::string::npos) << last_error;
  EXPECT_NE(last_error.find("store.max_document_depth"), std::string::npos) << last_error;

  // After a restart syncd pulls from the cursor past the page: it is not fetched again.
  ASSERT_EQ(exit_code(syncd.stop()), 0) << syncd.log();
  const size_t pulls_before = count(server.log(), "pull cursor=");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  ASSERT_TRUE(
      wait_until([&] { return count(server.log(), "pull cursor=") > pulls_before; }, Millis(15000)))
      << server.log();
  Client again(syncd.socket());
  EXPECT_TRUE(again.call("status").HasMember("result"));
  EXPECT_TRUE(syncd.process()->running());
  EXPECT_EQ(count(server.log(), "pull cursor=0"), 1u)
      << "the page was fetched once: " << server.log();
}

}  // namespace
}  // namespace syncd::testing
