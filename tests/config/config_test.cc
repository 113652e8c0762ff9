#include "config/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "tests/config/dump_file.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

// The message of the ConfigError that parsing `text` throws, or "" when it parses.
std::string error_of(const std::string& text) {
  try {
    parse_config(text, "test.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, EmptyObjectGivesTheDocumentedDefaults) {
  Config c = parse_config("{}", "t");
  EXPECT_EQ(c.state_dir, "./.syncd");
  EXPECT_EQ(c.socket_path(), "./.syncd/syncd.sock");
  EXPECT_EQ(c.remote, "http://127.0.0.1:8787");
  EXPECT_EQ(c.ipc.max_frame_bytes, 1 << 20);
  EXPECT_EQ(c.ipc.max_output_bytes, 4 << 20);
  EXPECT_EQ(c.ipc.max_total_output_bytes, 64 << 20);
  EXPECT_EQ(c.ipc.max_batch, 10000);
  EXPECT_EQ(c.store.synchronous, "full");
  EXPECT_EQ(c.store.max_document_depth, 64);
  EXPECT_EQ(c.sync.batch_size, 500);
  EXPECT_EQ(c.backoff.initial_ms, 1000);
  EXPECT_EQ(c.backoff.factor, 2.0);
  EXPECT_EQ(c.backoff.max_ms, 60000);
  EXPECT_EQ(c.backoff.max_retry_after_s, 3600);
  EXPECT_EQ(c.conflicts.strategy, "merge");
  EXPECT_EQ(c.conflicts.merge_tiebreak, "local");
}

TEST(Config, ReadsEveryKindOfValueWithCommentsAndTrailingCommas) {
  Config c = parse_config(R"(
    // a comment
    {
      "state_dir": "/var/lib/syncd",
      "socket": "/run/syncd/syncd.sock",
      "log_level": "debug",
      "ipc": {"max_frame_bytes": 65536, "allowed_uids": [1000, 1001], "allowed_gids": [],},
      "store": {"max_document_bytes": 32768, "synchronous": "normal", "max_document_depth": 1000},
      "backoff": {"factor": 1.5},
      /* per collection */
      "conflicts": {"strategy": "server_wins",
                    "collections": {"notes": {"strategy": "manual"},
                                    "carts": {"merge_tiebreak": "remote"}}},
    })",
                          "t");
  EXPECT_EQ(c.socket_path(), "/run/syncd/syncd.sock");
  EXPECT_EQ(c.ipc.allowed_uids, (std::vector<int64_t>{1000, 1001}));
  EXPECT_EQ(c.store.synchronous, "normal");
  EXPECT_EQ(c.store.max_document_depth, 1000);
  EXPECT_EQ(c.backoff.factor, 1.5);
  EXPECT_EQ(c.conflicts.collections.at("notes").strategy, "manual");
  EXPECT_EQ(c.conflicts.collections.at("notes").merge_tiebreak, "local");
  // Unset fields of an override take the top-level policy, wherever the keys appear.
  EXPECT_EQ(c.conflicts.collections.at("carts").strategy, "server_wins");
  EXPECT_EQ(c.conflicts.collections.at("carts").merge_tiebreak, "remote");
}

TEST(Config, EveryErrorNamesTheKeyPathAndWhatWasExpected) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"{\"sockt\": \"x\"}", "test.json: sockt: unknown key"},
      {"{\"ipc\": {\"max_frame_byte\": 1}}", "test.json: ipc.max_frame_byte: unknown key"},
      {"{\"ipc\": 5}", "test.json: ipc: expected an object, got number"},
      {"{\"ipc\": {\"max_frame_bytes\": \"1MiB\"}}",
       "test.json: ipc.max_frame_bytes: expected an integer, got string"},
      {"{\"ipc\": {\"max_frame_bytes\": 1.5}}",
       "test.json: ipc.max_frame_bytes: expected an integer, got number"},
      {"{\"ipc\": {\"max_frame_bytes\": 10}}",
       "test.json: ipc.max_frame_bytes: expected an integer from 1024 to 1073741824, got 10"},
      {"{\"ipc\": {\"allowed_uids\": 1000}}",
       "test.json: ipc.allowed_uids: expected an array of integers, got number"},
      {"{\"ipc\": {\"allowed_uids\": [\"root\"]}}",
       "test.json: ipc.allowed_uids: expected an array of integers from 0 to 4294967295, found "
       "string"},
      {"{\"ipc\": {\"allowed_gids\": [-1]}}",
       "test.json: ipc.allowed_gids: expected an array of integers from 0 to 4294967295, found -1"},
      {"{\"state_dir\": 7}", "test.json: state_dir: expected a string, got number"},
      {"{\"log_level\": \"verbose\"}",
       "test.json: log_level: expected one of debug, info, warning, error, got \"verbose\""},
      {"{\"store\": {\"synchronous\": \"off\"}}",
       "test.json: store.synchronous: expected one of full, normal, got \"off\""},
      {"{\"backoff\": {\"factor\": \"2\"}}",
       "test.json: backoff.factor: expected a number, got string"},
      {"{\"backoff\": {\"factor\": 0.5}}",
       "test.json: backoff.factor: expected a number from 1 to 100, got 0.5"},
      {"{\"backoff\": {\"max_retry_after_s\": 0}}",
       "test.json: backoff.max_retry_after_s: expected an integer from 1 to 604800, got 0"},
      {"{\"conflicts\": {\"strategy\": \"last_write_wins\"}}",
       "test.json: conflicts.strategy: expected one of server_wins, client_wins, merge, manual, "
       "got "
       "\"last_write_wins\""},
      {"{\"conflicts\": {\"collections\": []}}",
       "test.json: conflicts.collections: expected an object of collection name -> policy, got "
       "array"},
      {"{\"conflicts\": {\"collections\": {\"notes\": \"manual\"}}}",
       "test.json: conflicts.collections: \"notes\": expected an object, got string"},
      {"{\"conflicts\": {\"collections\": {\"notes\": {\"strat\": \"manual\"}}}}",
       "test.json: conflicts.collections: \"notes\".strat: unknown key (known: strategy, "
       "merge_tiebreak)"},
      {"{\"conflicts\": {\"collections\": {\"notes\": {\"strategy\": 1}}}}",
       "test.json: conflicts.collections: \"notes\".strategy: expected a string, got number"},
      {"{\"conflicts\": {\"collections\": {\"notes\": {\"merge_tiebreak\": \"mine\"}}}}",
       "test.json: conflicts.collections: \"notes\".merge_tiebreak: expected one of local, remote, "
       "got \"mine\""},
      {"[1]", "test.json: expected a JSON object at the top, got array"},
      {"{\"a\": }", "test.json: parse error at offset 6: Invalid value."},
      {"{} {}", "test.json: parse error at offset 3: unexpected data after the JSON value"},
      {"{\"remote\": \"ftp://x\"}",
       "test.json: remote: expected an http:// or https:// URL, got \"ftp://x\""},
      {"{\"state_dir\": \"\"}", "test.json: state_dir: must not be empty"},
      {"{\"store\": {\"max_document_bytes\": 2000000}}",
       "test.json: store.max_document_bytes (2000000) must be at least 1024 bytes below "
       "ipc.max_frame_bytes (1048576) so a document fits in a frame"},
      {"{\"store\": {\"max_document_depth\": 0}}",
       "test.json: store.max_document_depth: expected an integer from 1 to 1000, got 0"},
      {"{\"store\": {\"max_document_depth\": 1001}}",
       "test.json: store.max_document_depth: expected an integer from 1 to 1000, got 1001"},
      {"{\"store\": {\"max_document_depth\": \"64\"}}",
       "test.json: store.max_document_depth: expected an integer, got string"},
      {"{\"log_level\": \"info\", \"log_level\": \"debug\"}",
       "test.json: the key \"log_level\" is given twice"},
      {"{\"ipc\": {\"max_clients\": 2, \"max_clients\": 3}}",
       "test.json: ipc: the key \"max_clients\" is given twice"},
      {"{\"backoff\": {\"initial_ms\": 5000, \"max_ms\": 1000}}",
       "test.json: backoff.initial_ms (5000) must not exceed backoff.max_ms (1000)"},
      {"{\"ipc\": {\"max_total_output_bytes\": 1048576}}",
       "test.json: ipc.max_total_output_bytes (1048576) must not be below ipc.max_output_bytes "
       "(4194304), the budget of one client"},
      {"{\"ipc\": {\"max_batch\": 0}}",
       "test.json: ipc.max_batch: expected an integer from 1 to 1000000, got 0"},
  };
  for (const auto& c : cases) EXPECT_EQ(error_of(c.text), c.message) << c.text;
}

TEST(Config, LoadFileReportsAMissingFile) {
  testing::TempDir dir;
  EXPECT_THROW(load_config_file(dir.file("nope.json")), ConfigError);
  {
    std::ofstream out(dir.file("c.json"));
    out << "{\"log_level\": \"warning\"}";
  }
  EXPECT_EQ(load_config_file(dir.file("c.json")).log_level, "warning");
}

TEST(Config, DescribeChangesListsChangedKeysAndHidesSecrets) {
  Config a;
  Config b;
  b.log_level = "debug";
  b.ipc.max_output_bytes = 8192;
  b.auth.token = "s3cret";
  auto changes = describe_changes(a, b);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0], "log_level: \"info\" -> \"debug\"");
  EXPECT_EQ(changes[1], "ipc.max_output_bytes: 4194304 -> 8192");
  EXPECT_EQ(changes[2], "auth.token: (changed)");
  EXPECT_TRUE(describe_changes(a, a).empty());
}

// Found by the config fuzz target's round trip (the dump read back as a config): the
// dump showed backoff.factor with 6 significant digits, so --check-config printed
// another value than the one in force and a SIGHUP from 1.2345678 to 1.2345679 said
// nothing had changed.
TEST(Config, TheDumpShowsTheFactorExactlySoEveryChangeIsSeen) {
  Config a = parse_config(R"({"backoff": {"factor": 1.2345678}})", "a.json");
  Config b = parse_config(R"({"backoff": {"factor": 1.2345679}})", "b.json");
  auto flat = flatten_config(a);
  auto factor = std::find_if(flat.begin(), flat.end(),
                             [](const auto& kv) { return kv.first == "backoff.factor"; });
  ASSERT_NE(factor, flat.end());
  EXPECT_EQ(factor->second, "1.2345678");
  EXPECT_EQ(describe_changes(a, b),
            std::vector<std::string>{"backoff.factor: 1.2345678 -> 1.2345679"});
  EXPECT_EQ(flatten_config(Config{})[static_cast<size_t>(factor - flat.begin())].second, "2");
}

TEST(Config, TheDumpOfAConfigReadsBackAsTheSameConfig) {
  for (const char* text : {"{}", R"({"auth": {"mode": "bearer", "token_file": "/t"}})",
                           R"({"auth": {"mode": null}})"}) {
    SCOPED_TRACE(text);
    const Config config = parse_config(text, "a.json");
    const auto flat = flatten_config(config);
    Config again;
    ASSERT_NO_THROW(again = parse_config(testing::config_file_from_dump(flat), "dump.json"));
    EXPECT_EQ(flatten_config(again), flat);
    EXPECT_TRUE(describe_changes(config, again).empty());
  }
  EXPECT_EQ(error_of(R"({"auth": {"mode": ""}})"),
            "test.json: auth.mode: expected one of none, bearer, oauth2, basic, got \"\"");
}

TEST(Config, MetricsListenTakesALoopbackAddressAndAPortOnly) {
  EXPECT_EQ(parse_config(R"({"metrics": {"listen": "127.0.0.1:9464"}})", "t").metrics.listen,
            "127.0.0.1:9464");
  EXPECT_NO_THROW(parse_config(R"({"metrics": {"listen": "[::1]:9464"}})", "t"));
  EXPECT_NO_THROW(parse_config(R"({"metrics": {"listen": "localhost:1"}})", "t"));
  EXPECT_NO_THROW(parse_config(R"({"metrics": {"listen": "127.8.9.10:65535"}})", "t"));
  EXPECT_EQ(error_of(R"({"metrics": {"listen": "0.0.0.0:9464"}})"),
            "test.json: metrics.listen: not a loopback address (127.0.0.0/8): only loopback, got "
            "\"0.0.0.0:9464\"");
  EXPECT_EQ(error_of(R"({"metrics": {"listen": "[::]:9464"}})"),
            "test.json: metrics.listen: not a loopback address (::1): only loopback, got "
            "\"[::]:9464\"");
  EXPECT_EQ(error_of(R"({"metrics": {"listen": "127.0.0.1"}})"),
            "test.json: metrics.listen: expected ADDRESS:PORT, e.g. 127.0.0.1:9464, got "
            "\"127.0.0.1\"");
  EXPECT_EQ(error_of(R"({"metrics": {"listen": "127.0.0.1:0"}})"),
            "test.json: metrics.listen: expected a port from 1 to 65535 after the address, got "
            "\"127.0.0.1:0\"");
  EXPECT_EQ(error_of(R"({"metrics": {"listen": "example.com:80"}})"),
            "test.json: metrics.listen: not a numeric address (or localhost), got "
            "\"example.com:80\"");
  EXPECT_EQ(error_of(R"({"metrics": {"listen": "::1:80"}})"),
            "test.json: metrics.listen: an IPv6 address goes in brackets, got \"::1:80\"");
}

TEST(Config, FlattenListsEveryKey) {
  auto flat = flatten_config(Config{});
  EXPECT_EQ(flat.front().first, "state_dir");
  EXPECT_EQ(flat.back().first, "conflicts.collections");
  EXPECT_GE(flat.size(), 30u);
}

TEST(Config, GrantsNameAUidOrAGidAndTheCollectionsItMayReadAndWrite) {
  Config c = parse_config(R"({"ipc": {"grants": [
      {"uid": 1001, "read": ["notes", "prices"], "write": ["notes"]},
      {"gid": 20, "read": ["*"]}]}})",
                          "t");
  ASSERT_EQ(c.ipc.grants.size(), 2u);
  EXPECT_EQ(c.ipc.grants[0].uid, 1001);
  EXPECT_EQ(c.ipc.grants[0].gid, -1);
  EXPECT_EQ(c.ipc.grants[0].read, (std::vector<std::string>{"notes", "prices"}));
  EXPECT_EQ(c.ipc.grants[1].gid, 20);
  EXPECT_TRUE(c.ipc.grants[1].write.empty());
  auto flat = flatten_config(c);
  auto it =
      std::find_if(flat.begin(), flat.end(), [](auto& kv) { return kv.first == "ipc.grants"; });
  ASSERT_NE(it, flat.end());
  EXPECT_EQ(
      it->second,
      R"([{"uid":1001,"read":["notes","prices"],"write":["notes"]},{"gid":20,"read":["*"],"write":[]}])");
  EXPECT_EQ(error_of(R"({"ipc": {"grants": [{"uid": 1, "gid": 2}]}})"),
            "test.json: ipc.grants: [0]: give one of uid and gid");
  EXPECT_EQ(error_of(R"({"ipc": {"grants": [{"read": ["a"]}]}})"),
            "test.json: ipc.grants: [0]: give one of uid and gid");
  EXPECT_EQ(error_of(R"({"ipc": {"grants": [{"uid": 1, "reads": []}]}})"),
            "test.json: ipc.grants: [0].reads: unknown key (known: uid, gid, read, write)");
  EXPECT_EQ(error_of(R"({"ipc": {"grants": [{"uid": 1, "write": "notes"}]}})"),
            "test.json: ipc.grants: [0].write: expected an array of collection names or \"*\", got "
            "string");
  EXPECT_EQ(error_of(R"({"ipc": {"grants": [{"uid": -1}]}})"),
            "test.json: ipc.grants: [0].uid: expected an integer from 0 to 4294967295");
}

}  // namespace
}  // namespace syncd
