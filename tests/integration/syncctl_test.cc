// syncctl against a real daemon: output, --json, and exit codes 0/1/2/3.
#include <gtest/gtest.h>

#include <map>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

class Syncctl : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(syncd_.start()) << syncd_.log(); }
  CommandResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {syncctl_bin(), "--socket", syncd_.socket()});
    return run_command(args);
  }
  TempDir dir_;
  Syncd syncd_{dir_};
};

// `command` run on a pseudo-terminal (script(1)), with `env` added; what it printed.
std::string on_a_terminal(const std::string& command, std::map<std::string, std::string> env = {}) {
  env.emplace("TERM", "xterm");
  return run_command({"/usr/bin/script", "-qec", command, "/dev/null"}, env).out;
}

TEST_F(Syncctl, StatusIsColouredOnATerminalUnlessNoColorAndWatchRedraws) {
  const std::string status = syncctl_bin() + " --socket " + syncd_.socket() + " status";
  const std::string coloured = on_a_terminal(status);
  EXPECT_NE(coloured.find("\x1b[31moffline\x1b[0m since"), std::string::npos) << coloured;
  const std::string plain = on_a_terminal(status, {{"NO_COLOR", "1"}});
  EXPECT_NE(plain.find("offline since"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("\x1b["), std::string::npos) << plain;
  // --watch: the screen cleared and the status drawn again each second, until SIGINT.
  const std::string watched =
      on_a_terminal("timeout -s INT 3.5 " + status + " --watch", {{"NO_COLOR", "1"}});
  size_t draws = 0;
  for (size_t at = watched.find("\x1b[H\x1b[2Jsyncd "); at != std::string::npos;
       at = watched.find("\x1b[H\x1b[2Jsyncd ", at + 1)) {
    ++draws;
  }
  EXPECT_GE(draws, 2u) << watched;
}

TEST_F(Syncctl, PutGetListStatusWork) {
  CommandResult put = ctl({"put", "notes", "a", R"({"t":1})"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  EXPECT_NE(put.out.find("notes/a queued as mutation "), std::string::npos) << put.out;
  CommandResult get = ctl({"--json", "get", "notes", "a"});
  EXPECT_EQ(get.exit_code, 0);
  EXPECT_EQ(get.out,
            R"({"collection":"notes","id":"a","data":{"t":1},"version":null,"pending":true})"
            "\n");
  EXPECT_EQ(ctl({"patch", "notes", "a", R"({"u":2})"}).exit_code, 0);
  CommandResult list = ctl({"list", "notes"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find(R"({"t":1,"u":2})"), std::string::npos) << list.out;
  CommandResult status = ctl({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("2 pending, 0 inflight, 0 failed, 0 conflict"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("state        offline since "), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find('\x1b'), std::string::npos) << "not a terminal: no colour";
  CommandResult status_json = ctl({"status", "--json"});
  JsonDocument doc;
  ASSERT_FALSE(parse_json(status_json.out, doc)) << status_json.out;
  EXPECT_EQ(doc["queue"]["pending"].GetInt(), 2);
  CommandResult queue = ctl({"--json", "queue"});
  ASSERT_FALSE(parse_json(queue.out, doc));
  EXPECT_EQ(doc["items"].Size(), 2u);
  EXPECT_EQ(ctl({"delete", "notes", "a"}).exit_code, 0);
  EXPECT_EQ(ctl({"get", "notes", "a"}).exit_code, 1);
  EXPECT_EQ(ctl({"metrics"}).exit_code, 0);
  EXPECT_EQ(ctl({"retry", "--all"}).exit_code, 0);
}

TEST_F(Syncctl, DaemonErrorsExitOne) {
  CommandResult missing = ctl({"get", "notes", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no document notes/nope (not_found)"), std::string::npos)
      << missing.err;
  CommandResult not_object = ctl({"put", "notes", "a", "[1]"});
  EXPECT_EQ(not_object.exit_code, 1);
  EXPECT_NE(not_object.err.find("invalid_document"), std::string::npos);
  EXPECT_EQ(ctl({"retry", "no-such-mutation"}).exit_code, 1);
}

TEST_F(Syncctl, BadUsageExitsTwo) {
  EXPECT_EQ(ctl({}).exit_code, 2);
  EXPECT_EQ(ctl({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(ctl({"get", "notes"}).exit_code, 2);
  EXPECT_EQ(ctl({"put", "notes", "a", "{not json"}).exit_code, 2);
  EXPECT_EQ(ctl({"list", "notes", "--limit", "zero"}).exit_code, 2);
  EXPECT_EQ(ctl({"queue", "--bogus"}).exit_code, 2);
  // A global flag after the command with no value was an uncaught exception (exit 134).
  CommandResult no_socket = run_command({syncctl_bin(), "status", "--socket"});
  EXPECT_EQ(no_socket.exit_code, 2);
  EXPECT_NE(no_socket.err.find("--socket needs a value"), std::string::npos) << no_socket.err;
  CommandResult after = ctl({"queue", "--after", "x"});
  EXPECT_EQ(after.exit_code, 2);
  EXPECT_NE(after.err.find("--after expects a positive integer"), std::string::npos) << after.err;
  CommandResult help = ctl({"put", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: syncctl [--socket PATH] [--json] put COLLECTION ID JSON"),
            std::string::npos);
  EXPECT_EQ(run_command({syncctl_bin(), "--help"}).exit_code, 0);
}

TEST_F(Syncctl, UnreachableDaemonExitsThree) {
  CommandResult r = run_command({syncctl_bin(), "--socket", dir_.file("nobody.sock"), "status"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot connect to"), std::string::npos) << r.err;
  syncd_.stop();
  EXPECT_EQ(ctl({"status"}).exit_code, 3);
}

TEST_F(Syncctl, SocketComesFromTheEnvironmentWhenNoFlagIsGiven) {
  CommandResult r = run_command({syncctl_bin(), "status"}, {{"SYNCD_SOCKET", syncd_.socket()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  CommandResult xdg = run_command({syncctl_bin(), "status"},
                                  {{"SYNCD_SOCKET", ""}, {"XDG_RUNTIME_DIR", dir_.path()}});
  EXPECT_EQ(xdg.exit_code, 3)
      << "no syncd/syncd.sock under XDG_RUNTIME_DIR, falls back to ./.syncd";
}

TEST_F(Syncctl, WatchPrintsChangesAsTheyHappen) {
  Process watch({syncctl_bin(), "--socket", syncd_.socket(), "--json", "watch", "notes"},
                dir_.file("watch.out"), dir_.file("watch.err"));
  // The subscription is in place once the daemon counts a second open connection.
  Client client(syncd_.socket());
  ASSERT_TRUE(
      wait_until([&] { return client.call("metrics")["result"]["connections_open"].GetInt() >= 2; },
                 Millis(10000)));
  ctl({"put", "other", "x", "{}"});
  ctl({"put", "notes", "w", R"({"live":true})"});
  ASSERT_TRUE(wait_until(
      [&] { return read_file(dir_.file("watch.out")).find("\"id\":\"w\"") != std::string::npos; },
      Millis(10000)));
  std::string out = read_file(dir_.file("watch.out"));
  EXPECT_NE(out.find(R"("data":{"live":true},"origin":"local")"), std::string::npos) << out;
  EXPECT_EQ(out.find("\"other\""), std::string::npos) << "filtered to notes";
  watch.signal(SIGINT);
  EXPECT_TRUE(watch.wait_exit(Millis(10000)));
}

}  // namespace
}  // namespace syncd::testing

namespace syncd::testing {
namespace {

TEST(SyncctlProgress, SyncWaitShowsTheQueueDrainingAndTimesOutNamingWhatIsLeft) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  FaultProxy proxy(dir, server.port());
  ASSERT_TRUE(proxy.start());
  ASSERT_EQ(proxy.command("refuse"), "ok refuse");
  Syncd syncd(dir, R"({"backoff": {"initial_ms": 20, "max_ms": 200}, "sync": {"batch_size": 20}})",
              {}, proxy.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(
        client.call("put", R"({"collection":"p","id":"d)" + std::to_string(i) + R"(","data":{}})")
            .HasMember("result"));
  }
  const std::vector<std::string> ctl = {syncctl_bin(), "--socket", syncd.socket()};
  // Offline: the wait ends at its timeout, exit 1, saying how many are left.
  auto args = ctl;
  args.insert(args.end(), {"sync", "--wait", "--timeout", "1"});
  CommandResult stuck = run_command(args);
  EXPECT_EQ(stuck.exit_code, 1) << stuck.out << stuck.err;
  EXPECT_NE(stuck.err.find("300 still queued after 1 s"), std::string::npos) << stuck.err;
  EXPECT_NE(stuck.out.find("0 of 300 sent"), std::string::npos) << stuck.out;
  // Online: plain lines (not a terminal), ending with all of them sent. The wait starts
  // while still offline, so the drain it reports is the whole queue whatever the timing.
  args = ctl;
  args.insert(args.end(), {"sync", "--wait"});
  Process waiting(args, dir.file("wait.out"), dir.file("wait.err"));
  ASSERT_TRUE(wait_until(
      [&] { return read_file(dir.file("wait.out")).find("0 of 300 sent") != std::string::npos; },
      Millis(10000)))
      << read_file(dir.file("wait.out"));
  ASSERT_EQ(proxy.command("pass"), "ok pass");
  const std::optional<int> status = waiting.wait_exit(Millis(60000));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << read_file(dir.file("wait.err"));
  const std::string drained = read_file(dir.file("wait.out"));
  EXPECT_NE(drained.find("300 of 300 sent, "), std::string::npos) << drained;
  EXPECT_NE(drained.find(", done\n"), std::string::npos) << drained;
  EXPECT_EQ(drained.find('\r'), std::string::npos) << "no bar when not on a terminal";
  // On a terminal: a bar redrawn in place.
  for (int i = 0; i < 50; ++i) {
    client.call("put", R"({"collection":"p","id":"e)" + std::to_string(i) + R"(","data":{}})");
  }
  std::string command;
  for (const auto& a : ctl) command += a + " ";
  const std::string bar =
      run_command({"/usr/bin/script", "-qec", command + "sync --wait", "/dev/null"}).out;
  EXPECT_NE(bar.find("\r["), std::string::npos) << bar;
  EXPECT_NE(bar.find("done"), std::string::npos) << bar;
  // retry --all --wait: nothing failed, so nothing to wait for.
  args = ctl;
  args.insert(args.end(), {"retry", "--all", "--wait", "--timeout", "5"});
  CommandResult retried = run_command(args);
  EXPECT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_NE(retried.out.find("0 mutation(s) back to pending\n0 of 0 sent, 0/s, done"),
            std::string::npos)
      << retried.out;
  // Usage: --timeout without --wait.
  args = ctl;
  args.insert(args.end(), {"sync", "--timeout", "3"});
  EXPECT_EQ(run_command(args).exit_code, 2);
}

}  // namespace
}  // namespace syncd::testing
