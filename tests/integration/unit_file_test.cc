// The systemd units in systemd/: `systemd-analyze verify` finds nothing to say about
// them, the service's exposure score is at most 1.5, and syncd does its work (serve,
// write, sync both ways, reload, stop) under the service's system call filter, applied
// by seccomp_launcher as systemd would apply it (systemd is not PID 1 here).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

constexpr const char* kSystemdAnalyze = "/usr/bin/systemd-analyze";  // package systemd

// The unit file with /usr/bin/ pointing at this build, so that verify finds the binaries.
std::string unit_for_this_build(const std::string& name) {
  std::string text = read_file(source_dir() + "/systemd/" + name);
  const std::string installed = "/usr/bin/syncd ";
  const std::string built = syncd_bin() + " ";
  for (size_t at = text.find(installed); at != std::string::npos;
       at = text.find(installed, at + built.size())) {
    text.replace(at, installed.size(), built);
  }
  return text;
}

TEST(UnitFiles, SystemdAnalyzeVerifyFindsNothingInAnyUnit) {
  TempDir dir;
  std::vector<std::string> argv = {kSystemdAnalyze, "verify"};
  for (const char* unit : {"syncd.socket", "syncd.service"}) {
    write_file(dir.file(unit), unit_for_this_build(unit));
    argv.push_back(dir.file(unit));
  }
  CommandResult r = run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "");
}

TEST(UnitFiles, TheServicesExposureScoreIsAtMostOnePointFive) {
  CommandResult r = run_command(
      {kSystemdAnalyze, "security", "--offline=true", source_dir() + "/systemd/syncd.service"});
  const std::string marker = "Overall exposure level for syncd.service: ";
  const size_t at = r.out.find(marker);
  ASSERT_NE(at, std::string::npos) << r.out << r.err;
  const double score = std::stod(r.out.substr(at + marker.size()));
  EXPECT_LE(score, 1.5) << r.out;
  EXPECT_GT(score, 0.0);
}

// systemd's system call groups (`systemd-analyze syscall-filter`): "@group" to its
// entries, which are call names or other groups.
std::map<std::string, std::vector<std::string>> syscall_groups() {
  CommandResult r = run_command({kSystemdAnalyze, "syscall-filter"});
  std::map<std::string, std::vector<std::string>> groups;
  std::istringstream lines(r.out);
  std::string current;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (line[0] == '@') {
      current = line.substr(0, line.find_first_of(" \t"));
      continue;
    }
    const size_t start = line.find_first_not_of(" \t");
    if (current.empty() || start == std::string::npos || line[start] == '#') continue;
    groups[current].push_back(line.substr(start, line.find_last_not_of(" \t") - start + 1));
  }
  return groups;
}

void expand(const std::map<std::string, std::vector<std::string>>& groups, const std::string& entry,
            std::set<std::string>& out) {
  if (entry[0] != '@') {
    out.insert(entry);
    return;
  }
  auto it = groups.find(entry);
  ASSERT_NE(it, groups.end()) << "unknown system call group " << entry;
  for (const auto& e : it->second) expand(groups, e, out);
}

// The calls the service's SystemCallFilter= lines allow, read as systemd reads them: the
// first line is an allow list, later lines remove (~) or add to it.
std::set<std::string> allowed_by_the_service() {
  const auto groups = syscall_groups();
  std::set<std::string> allowed;
  bool first = true;
  std::istringstream lines(read_file(source_dir() + "/systemd/syncd.service"));
  for (std::string line; std::getline(lines, line);) {
    const std::string key = "SystemCallFilter=";
    if (line.rfind(key, 0) != 0) continue;
    std::string value = line.substr(key.size());
    const bool remove = !value.empty() && value[0] == '~';
    if (remove) value.erase(0, 1);
    EXPECT_FALSE(first && remove) << "the first SystemCallFilter= line is an allow list";
    std::set<std::string> named;
    std::istringstream words(value);
    for (std::string w; words >> w;) expand(groups, w, named);
    for (const auto& call : named) {
      if (remove) {
        allowed.erase(call);
      } else {
        allowed.insert(call);
      }
    }
    first = false;
  }
  return allowed;
}

TEST(UnitFiles, SyncdWorksUnderTheServicesSystemCallFilter) {
  TempDir dir;
  const std::set<std::string> allowed = allowed_by_the_service();
  ASSERT_GT(allowed.size(), 100u);
  // What the filter takes away, so the test cannot pass on an empty filter.
  for (const char* refused : {"mount", "reboot", "ptrace", "setuid", "chown", "setrlimit"}) {
    EXPECT_EQ(allowed.count(refused), 0u) << refused;
  }
  std::string list;
  for (const auto& call : allowed) list += call + "\n";
  write_file(dir.file("allowed-syscalls"), list);

  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  Syncd syncd(dir, R"({"backoff": {"initial_ms": 20, "max_ms": 300},
                       "sync": {"pull_interval_s": 1}})",
              {}, server.url());
  // SQLite gives a file it creates to the database's owner when it runs as root (this
  // test), never as the unit's User=syncd: refused with EPERM, as the unit refuses it.
  std::vector<std::string> launcher = {seccomp_launcher_bin(), "--eperm", "fchown",
                                       dir.file("allowed-syscalls")};
#if defined(__SANITIZE_ADDRESS__)
  // LeakSanitizer's check at exit stops the threads with ptrace: the sanitizer's call,
  // not syncd's, and one the filter rightly refuses.
  const char* asan = std::getenv("ASAN_OPTIONS");
  launcher.insert(launcher.begin(),
                  {"/usr/bin/env", std::string("ASAN_OPTIONS=") + (asan ? asan : "") +
                                       (asan && *asan ? ":" : "") + "detect_leaks=0"});
#endif
  syncd.run_under(launcher);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  JsonDocument sub = client.call("subscribe", R"({"collections":["notes"]})");
  ASSERT_TRUE(sub.HasMember("result")) << to_json(sub);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(client
                    .call("put", R"({"collection":"notes","id":"n)" + std::to_string(i) +
                                     R"(","data":{"i":)" + std::to_string(i) + "}}")
                    .HasMember("result"))
        << syncd.log();
  }
  auto pending = [&] {
    JsonDocument s = client.call("status");
    if (!s.HasMember("result")) return int64_t{-1};
    return s["result"]["queue"]["pending"].GetInt64() + s["result"]["queue"]["inflight"].GetInt64();
  };
  ASSERT_TRUE(wait_until([&] { return pending() == 0; }, Millis(30000))) << syncd.log();
  // A write another device pushed comes back through the event stream or a pull.
  Syncd other(dir, "", {}, server.url(), "other");
  ASSERT_TRUE(other.start()) << other.log();
  Client other_client(other.socket());
  ASSERT_TRUE(other_client.call("put", R"({"collection":"notes","id":"remote","data":{"r":1}})")
                  .HasMember("result"));
  ASSERT_TRUE(wait_until(
      [&] {
        JsonDocument got = client.call("get", R"({"collection":"notes","id":"remote"})");
        return got.HasMember("result");
      },
      Millis(30000)))
      << syncd.log();
  syncd.process()->signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return syncd.log().find("SIGHUP: config") != std::string::npos; },
                         Millis(10000)))
      << syncd.log();
  EXPECT_TRUE(client.call("status").HasMember("result")) << syncd.log();
  EXPECT_EQ(exit_code(syncd.stop()), 0) << "a call outside the filter kills syncd (SIGSYS)\n"
                                        << syncd.log();
}

}  // namespace
}  // namespace syncd::testing
