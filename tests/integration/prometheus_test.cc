// `syncctl metrics --prometheus` read by a real Prometheus parser (the prometheus_client
// package's, installed by scripts/test): every family parses, counters count what was
// done, and the status (queue by state, connectivity, breaker, auth) is there as numbers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

// The parser's view of `text` as JSON: {"family name": {"type", "samples": [[name,
// labels, value], ...]}}; or an error object.
JsonDocument parsed(const TempDir& dir, const std::string& text) {
  write_file(dir.file("metrics.txt"), text);
  const std::string script =
      "import json, sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "out = {}\n"
      "for f in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
      "    out[f.name] = {'type': f.type,\n"
      "                   'samples': [[s.name, s.labels, s.value] for s in f.samples]}\n"
      "print(json.dumps(out))\n";
  CommandResult r = run_command({"/usr/bin/python3", "-c", script, dir.file("metrics.txt")});
  JsonDocument doc;
  if (r.exit_code != 0 || parse_json(r.out, doc)) {
    doc.Parse(R"({"error": "the parser refused it"})");
    ADD_FAILURE() << r.err << "\n" << text;
  }
  return doc;
}

// The value of the sample `name` with label state=`state` (or no labels), -1 when absent.
double value_of(const JsonDocument& families, const char* family, const char* sample,
                const char* state = nullptr) {
  if (!families.HasMember(family)) return -1;
  for (const auto& s : families[family]["samples"].GetArray()) {
    if (std::string(s[0].GetString()) != sample) continue;
    if (state && (!s[1].HasMember("state") || std::string(s[1]["state"].GetString()) != state)) {
      continue;
    }
    return s[2].GetDouble();
  }
  return -1;
}

TEST(Prometheus, TheMetricsAndTheStatusParseWithARealParserAndCountWhatWasDone) {
  TempDir dir;
  Syncd syncd(dir);  // offline: its remote is a closed port
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  for (int i = 0; i < 7; ++i) {
    client.call("put", R"({"collection":"m","id":"d)" + std::to_string(i) + R"(","data":{}})");
  }
  CommandResult r =
      run_command({syncctl_bin(), "--socket", syncd.socket(), "metrics", "--prometheus"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  JsonDocument f = parsed(dir, r.out);
  ASSERT_TRUE(f.IsObject() && !f.HasMember("error"));
  EXPECT_STREQ(f["syncd_writes"]["type"].GetString(), "counter");
  EXPECT_EQ(value_of(f, "syncd_writes", "syncd_writes_total"), 7);
  EXPECT_EQ(value_of(f, "syncd_queue_mutations", "syncd_queue_mutations", "pending") +
                value_of(f, "syncd_queue_mutations", "syncd_queue_mutations", "inflight"),
            7);
  EXPECT_EQ(value_of(f, "syncd_queue_mutations", "syncd_queue_mutations", "failed"), 0);
  EXPECT_EQ(value_of(f, "syncd_connectivity", "syncd_connectivity", "offline"), 1);
  EXPECT_EQ(value_of(f, "syncd_connectivity", "syncd_connectivity", "online"), 0);
  EXPECT_EQ(value_of(f, "syncd_breaker", "syncd_breaker", "closed"), 1);
  EXPECT_EQ(value_of(f, "syncd_auth", "syncd_auth", "none"), 1);
  EXPECT_EQ(value_of(f, "syncd_connections_open", "syncd_connections_open"), 2)
      << "the test's client and syncctl";
  EXPECT_GE(value_of(f, "syncd_queue_oldest_pending_age_seconds",
                     "syncd_queue_oldest_pending_age_seconds"),
            0);
  EXPECT_GE(value_of(f, "syncd_journal_unapplied", "syncd_journal_unapplied"), 0);
  EXPECT_STREQ(f["syncd_info"]["samples"][0][1]["version"].GetString(), SYNCD_VERSION);
  // The table for people is unchanged.
  r = run_command({syncctl_bin(), "--socket", syncd.socket(), "metrics"});
  EXPECT_NE(r.out.find("writes"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("# TYPE"), std::string::npos) << r.out;
  // A format it does not know is named.
  JsonDocument bad = client.call("metrics", R"({"format": "xml"})");
  EXPECT_EQ(std::string(bad["error"]["message"].GetString()),
            "params.format: expected json or prometheus");
}

}  // namespace
}  // namespace syncd::testing

namespace syncd::testing {
namespace {

// The value of the sample `name` whose labels include every pair of `want`, -1 if none.
double labelled(const JsonDocument& families, const char* family, const char* sample,
                const std::map<std::string, std::string>& want) {
  if (!families.HasMember(family)) return -1;
  for (const auto& s : families[family]["samples"].GetArray()) {
    if (std::string(s[0].GetString()) != sample) continue;
    bool all = true;
    for (const auto& [k, v] : want) {
      all = all && s[1].HasMember(k.c_str()) && std::string(s[1][k.c_str()].GetString()) == v;
    }
    if (all) return s[2].GetDouble();
  }
  return -1;
}

TEST(Prometheus, PushesPullsDeadLettersConflictsAndLatenciesAreCounted) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  FaultProxy proxy(dir, server.port());
  ASSERT_TRUE(proxy.start());
  ASSERT_EQ(proxy.command("refuse"), "ok refuse");
  const std::string config = R"({"backoff": {"initial_ms": 20, "max_ms": 200},
                                  "sync": {"pull_interval_s": 1}})";
  Syncd b(dir, config, {}, proxy.url(), "b-");
  Syncd a(dir, config, {}, server.url(), "a-");
  ASSERT_TRUE(b.start()) << b.log();
  ASSERT_TRUE(a.start()) << a.log();
  Client cb(b.socket());
  Client ca(a.socket());
  // B writes x offline; A creates x on the server: B's push meets a conflict.
  ASSERT_TRUE(
      cb.call("put", R"({"collection":"n","id":"x","data":{"from":"b"}})").HasMember("result"));
  ASSERT_TRUE(
      ca.call("put", R"({"collection":"n","id":"x","data":{"from":"a"}})").HasMember("result"));
  auto queue_empty = [](Client& c) {
    JsonDocument s = c.call("status");
    const auto& q = s["result"]["queue"];
    return q["pending"].GetInt64() + q["inflight"].GetInt64() == 0;
  };
  ASSERT_TRUE(wait_until([&] { return queue_empty(ca); }, Millis(20000))) << a.log();
  ASSERT_EQ(proxy.command("pass"), "ok pass");
  ASSERT_TRUE(wait_until([&] { return queue_empty(cb); }, Millis(20000))) << b.log();
  // A write the server refuses: a dead letter.
  ASSERT_TRUE(server.hold_pushes());
  JsonDocument refused = cb.call("put", R"({"collection":"n","id":"y","data":{}})");
  ASSERT_TRUE(server.reject({refused["result"]["mutation_id"].GetString()}, "no"));
  cb.call("sync.now");
  ASSERT_TRUE(
      wait_until([&] { return cb.call("status")["result"]["queue"]["failed"].GetInt64() == 1; },
                 Millis(20000)))
      << b.log();

  CommandResult r = run_command({syncctl_bin(), "--socket", b.socket(), "metrics", "--prometheus"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  JsonDocument f = parsed(dir, r.out);
  ASSERT_TRUE(f.IsObject() && !f.HasMember("error"));
  EXPECT_STREQ(f["syncd_pushes"]["type"].GetString(), "counter");
  EXPECT_GE(labelled(f, "syncd_pushes", "syncd_pushes_total", {{"outcome", "ok"}}), 2) << r.out;
  EXPECT_GE(labelled(f, "syncd_pulls", "syncd_pulls_total", {{"outcome", "ok"}}), 1) << r.out;
  EXPECT_EQ(value_of(f, "syncd_dead_letters", "syncd_dead_letters_total"), 1) << r.out;
  EXPECT_EQ(labelled(f, "syncd_conflicts", "syncd_conflicts_total", {{"strategy", "merge"}}), 1)
      << r.out;
  // A histogram: the +Inf bucket counts every push, as _count does.
  EXPECT_STREQ(f["syncd_request_duration_seconds"]["type"].GetString(), "histogram");
  const double pushes = labelled(f, "syncd_request_duration_seconds",
                                 "syncd_request_duration_seconds_count", {{"request", "push"}});
  EXPECT_GE(pushes, 3);
  EXPECT_EQ(labelled(f, "syncd_request_duration_seconds", "syncd_request_duration_seconds_bucket",
                     {{"request", "push"}, {"le", "+Inf"}}),
            pushes);
  EXPECT_LE(labelled(f, "syncd_request_duration_seconds", "syncd_request_duration_seconds_bucket",
                     {{"request", "push"}, {"le", "0.001"}}),
            pushes);
  // Group commits: the two writes B took, one commit each.
  EXPECT_EQ(value_of(f, "syncd_commit_writes", "syncd_commit_writes_count"), 2) << r.out;
  EXPECT_EQ(value_of(f, "syncd_commit_writes", "syncd_commit_writes_sum"), 2) << r.out;
}

}  // namespace
}  // namespace syncd::testing

namespace syncd::testing {
namespace {

// A TCP connection to 127.0.0.1:`port` (-1 when refused).
int connect_tcp(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// What the peer sends until it closes (or 5 s pass).
std::string read_all(int fd) {
  std::string out;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(Prometheus, MetricsListenServesGetMetricsOverHttpAndNothingElse) {
  TempDir dir;
  const int port = free_port();
  Syncd syncd(dir, R"({"metrics": {"listen": "127.0.0.1:)" + std::to_string(port) + R"("}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  ASSERT_TRUE(client.call("put", R"({"collection":"m","id":"a","data":{}})").HasMember("result"));
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  HttpResult got = http_get(base + "/metrics");
  ASSERT_EQ(got.status, 200) << syncd.log();
  EXPECT_EQ(got.header("Content-Type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
  JsonDocument f = parsed(dir, got.body);
  ASSERT_TRUE(f.IsObject() && !f.HasMember("error"));
  EXPECT_EQ(value_of(f, "syncd_writes", "syncd_writes_total"), 1);
  EXPECT_EQ(http_get(base + "/metrics?x=1").status, 200);
  EXPECT_EQ(http_get(base + "/").status, 404);
  EXPECT_EQ(http_get(base + "/metrics/../status").status, 404);
  HttpResult posted = http_post(base + "/metrics", "{}");
  EXPECT_EQ(posted.status, 405);
  EXPECT_EQ(posted.header("Allow").value_or(""), "GET, HEAD");
  // A request head over 8 KiB: 431, and the connection closed.
  int fd = connect_tcp(port);
  ASSERT_GE(fd, 0);
  const std::string huge =
      "GET /metrics HTTP/1.1\r\nX-Pad: " + std::string(20000, 'p') + "\r\n\r\n";
  (void)::write(fd, huge.data(), huge.size());
  EXPECT_EQ(read_all(fd).rfind("HTTP/1.1 431 ", 0), 0u);
  ::close(fd);
  // Not HTTP at all: 400.
  fd = connect_tcp(port);
  (void)::write(fd, "hello\r\n\r\n", 9);
  EXPECT_EQ(read_all(fd).rfind("HTTP/1.1 400 ", 0), 0u);
  ::close(fd);

  // Sixteen connections that never send a request: a seventeenth is closed at once, the
  // socket's clients are served meanwhile, and /metrics answers once they are gone.
  std::vector<int> idle;
  for (size_t i = 0; i < 16; ++i) idle.push_back(connect_tcp(port));
  ASSERT_TRUE(wait_until(
      [&] {
        const int extra = connect_tcp(port);
        const bool closed_at_once = extra >= 0 && read_all(extra).empty();
        ::close(extra);
        return closed_at_once;
      },
      Millis(10000)));
  EXPECT_TRUE(client.call("status").HasMember("result"));
  for (int i : idle) ::close(i);
  EXPECT_TRUE(wait_until([&] { return http_get(base + "/metrics").status == 200; }, Millis(10000)));
  EXPECT_EQ(exit_code(syncd.stop()), 0) << syncd.log();
}

TEST(Prometheus, AMetricsListenAddressInUseStopsTheStartNamingIt) {
  TempDir dir;
  const int port = free_port();
  const int taken = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  Syncd syncd(dir, R"({"metrics": {"listen": "127.0.0.1:)" + std::to_string(port) + R"("}})");
  EXPECT_FALSE(syncd.start());
  EXPECT_NE(syncd.log().find("metrics.listen 127.0.0.1:" + std::to_string(port) +
                             ": cannot listen: address already in use"),
            std::string::npos)
      << syncd.log();
  ::close(taken);
}

}  // namespace
}  // namespace syncd::testing
