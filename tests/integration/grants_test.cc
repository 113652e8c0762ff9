// Limits on a local client by uid, with a second uid (nobody, through setpriv; skipped
// with a reason when the test is not root): a peer reads only the collections ipc.grants
// gives it and writes only those it may write, through get, list, put, queue and watch,
// and a notification of a collection it may not read never reaches it; a uid holds at
// most ipc.max_clients_per_uid connections.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

constexpr int kNobody = 65534;
const char* const kSetpriv = "/usr/bin/setpriv";

std::vector<std::string> as_nobody(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {kSetpriv, "--reuid=" + std::to_string(kNobody),
                             "--regid=" + std::to_string(kNobody), "--clear-groups"});
  return argv;
}

TEST(Grants, ASecondUidSeesAndChangesOnlyTheCollectionsItIsGranted) {
  if (::geteuid() != 0 || ::access(kSetpriv, X_OK) != 0) {
    GTEST_SKIP() << "needs root and " << kSetpriv << " to act as uid " << kNobody;
  }
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);  // nobody must reach the socket in it
  Syncd syncd(dir, R"({"ipc": {"allowed_uids": [65534],
      "grants": [{"uid": 65534, "read": ["public"], "write": ["inbox"]}]}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  ::chmod(syncd.socket().c_str(), 0666);
  Client root(syncd.socket());
  for (const char* c : {"public", "secret", "inbox"}) {
    ASSERT_TRUE(root.call("put", std::string(R"({"collection":")") + c +
                                     R"(","id":"a","data":{"in":")" + c + R"("}})")
                    .HasMember("result"));
  }
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {syncctl_bin(), "--socket", syncd.socket()});
    return run_command(as_nobody(args));
  };
  // Watching everything, nobody gets only what it may read.
  const std::string watched = dir.file("watch.out");
  Process watch(as_nobody({syncctl_bin(), "--socket", syncd.socket(), "watch"}), watched,
                dir.file("watch.err"));

  CommandResult r = ctl({"get", "public", "a"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"in\": \"public\""), std::string::npos) << r.out;
  r = ctl({"get", "secret", "a"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("uid 65534 may not read collection secret (ipc.grants)"), std::string::npos)
      << r.err;
  EXPECT_NE(ctl({"list", "secret"}).exit_code, 0);
  EXPECT_NE(ctl({"put", "public", "b", "{}"}).exit_code, 0) << "read only";
  EXPECT_EQ(ctl({"put", "inbox", "b", R"({"from":"nobody"})"}).exit_code, 0);
  EXPECT_EQ(ctl({"get", "inbox", "a"}).exit_code, 0) << "write implies read";
  r = ctl({"--json", "queue"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("secret"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("public"), std::string::npos) << r.out;
  // Root's view is whole.
  EXPECT_TRUE(root.call("get", R"({"collection":"inbox","id":"b"})").HasMember("result"));

  // Changes to both: the watcher shows the public one, never the secret one.
  ASSERT_TRUE(wait_until(
      [&] {
        root.call("put", R"({"collection":"secret","id":"w","data":{"x":"hidden-change"}})");
        root.call("put", R"({"collection":"public","id":"w","data":{"x":"shown-change"}})");
        return read_file(watched).find("shown-change") != std::string::npos;
      },
      Millis(10000)))
      << read_file(watched) << read_file(dir.file("watch.err"));
  watch.signal(SIGTERM);
  watch.wait_exit(Millis(5000));
  EXPECT_EQ(read_file(watched).find("hidden-change"), std::string::npos) << read_file(watched);
  EXPECT_EQ(read_file(watched).find("secret"), std::string::npos) << read_file(watched);
}

TEST(Grants, AUidGetsAtMostItsShareOfConnectionsAndRootIsNotCounted) {
  if (::geteuid() != 0 || ::access(kSetpriv, X_OK) != 0) {
    GTEST_SKIP() << "needs root and " << kSetpriv << " to act as uid " << kNobody;
  }
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  Syncd syncd(dir, R"({"ipc": {"max_clients_per_uid": 2}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  ::chmod(syncd.socket().c_str(), 0666);
  Client root(syncd.socket());
  // Two watchers as nobody hold its two connections.
  std::vector<std::unique_ptr<Process>> watchers;
  for (int i = 0; i < 2; ++i) {
    watchers.push_back(std::make_unique<Process>(
        as_nobody({syncctl_bin(), "--socket", syncd.socket(), "watch"}),
        dir.file("w" + std::to_string(i)), dir.file("w" + std::to_string(i) + ".err")));
  }
  ASSERT_TRUE(
      wait_until([&] { return root.call("metrics")["result"]["connections_open"].GetInt64() >= 3; },
                 Millis(10000)));
  CommandResult r = run_command(as_nobody({syncctl_bin(), "--socket", syncd.socket(), "status"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("too many connections of uid 65534 (ipc.max_clients_per_uid is 2)"),
            std::string::npos)
      << r.err;
  // Root's are not counted against anyone.
  Client more_root(syncd.socket());
  EXPECT_TRUE(more_root.call("status").HasMember("result"));
  JsonDocument m = root.call("metrics");
  EXPECT_EQ(m["result"]["connections_refused_uid"].GetInt64(), 1);
  for (auto& w : watchers) w->signal(SIGTERM);
  // Once one leaves, nobody connects again.
  for (auto& w : watchers) w->wait_exit(Millis(5000));
  ASSERT_TRUE(wait_until(
      [&] {
        return run_command(as_nobody({syncctl_bin(), "--socket", syncd.socket(), "status"}))
                   .exit_code == 0;
      },
      Millis(10000)));
}

TEST(Grants, SubscribersOfOneUidThatNeverReadShareOneOutputBudgetAndAReaderKeepsUp) {
  if (::geteuid() != 0 || ::access(kSetpriv, X_OK) != 0) {
    GTEST_SKIP() << "needs root and " << kSetpriv << " to act as uid " << kNobody;
  }
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  Syncd syncd(dir, R"({"ipc": {"max_output_bytes_per_uid": 262144},
                       "store": {"synchronous": "normal"}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  ::chmod(syncd.socket().c_str(), 0666);
  // Eight subscribers as nobody that never read what they are sent, and one that does.
  const std::string script =
      "import socket, sys, time\n"
      "s = socket.socket(socket.AF_UNIX)\n"
      "s.connect(sys.argv[1])\n"
      "s.sendall(b'{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\"}\\n')\n"
      "time.sleep(120)\n";
  std::vector<std::unique_ptr<Process>> stuck;
  for (int i = 0; i < 8; ++i) {
    stuck.push_back(
        std::make_unique<Process>(as_nobody({"/usr/bin/python3", "-c", script, syncd.socket()}),
                                  "/dev/null", dir.file("r" + std::to_string(i) + ".err")));
  }
  const std::string watched = dir.file("watch.out");
  Process reader(as_nobody({syncctl_bin(), "--socket", syncd.socket(), "--json", "watch"}), watched,
                 dir.file("watch.err"));
  Client root(syncd.socket());
  auto metric = [&](const char* name) { return root.call("metrics")["result"][name].GetInt64(); };
  ASSERT_TRUE(wait_until([&] { return metric("connections_open") >= 10; }, Millis(10000)));
  // Each subscriber is sent about 2 MB: without a shared budget syncd would hold most of
  // it for each of the eight (up to ipc.max_output_bytes, 4 MiB, apiece): 17 MB.
  const std::string pad(1000, 'p');
  int64_t held_max = 0;
  for (int i = 0; i < 2000; ++i) {
    root.call("put", R"({"collection":"c","id":"d)" + std::to_string(i % 50) + R"(","data":{"i":)" +
                         std::to_string(i) + R"(,"p":")" + pad + R"("}})");
    if (i % 100 == 0) held_max = std::max(held_max, metric("output_bytes"));
  }
  held_max = std::max(held_max, metric("output_bytes"));
  EXPECT_LE(held_max, 262144 + 2 * 16384) << "held for the uid's subscribers, bytes";
  EXPECT_GE(metric("slow_reader_disconnects"), 1);
  EXPECT_NE(syncd.log().find("the unsent output of uid 65534 reached "
                             "ipc.max_output_bytes_per_uid (262144 bytes): disconnected"),
            std::string::npos)
      << syncd.log();
  // The uid's reader was not the one cut: it has the last change.
  EXPECT_TRUE(wait_until(
      [&] { return read_file(watched).find(R"("i":1999)") != std::string::npos; }, Millis(10000)))
      << read_file(dir.file("watch.err"));
  EXPECT_TRUE(reader.running());
  reader.signal(SIGTERM);
  for (auto& r : stuck) r->signal(SIGKILL);
}

}  // namespace
}  // namespace syncd::testing
