// Start-up, shutdown, reload and refusal paths of the syncd process.
#include <fcntl.h>

#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <map>
#include <sstream>

#include <dirent.h>
#include <sched.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

struct ThreadScheduling {
  int policy = -1;  // SCHED_OTHER 0, SCHED_IDLE 5
  int nice = 0;
};

// The scheduling of the process's thread named `name`, from /proc (nullopt: no such thread).
std::optional<ThreadScheduling> thread_scheduling(pid_t pid, const std::string& name) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(tasks.c_str()), ::closedir);
  if (!dir) return std::nullopt;
  while (dirent* entry = ::readdir(dir.get())) {
    const std::string task = tasks + "/" + entry->d_name;
    if (entry->d_name[0] == '.' || read_file(task + "/comm") != name + "\n") continue;
    ProcStat stat(task + "/stat");
    const std::string nice = stat.field(19), policy = stat.field(41);
    if (nice.empty() || policy.empty()) return std::nullopt;
    return ThreadScheduling{std::stoi(policy), std::stoi(nice)};
  }
  return std::nullopt;
}

// Every directory above `path` lets others through (so another user can run it).
bool reachable_by_others(const std::string& path) {
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    struct stat st {};
    if (::stat(path.substr(0, at).c_str(), &st) != 0 || !(st.st_mode & S_IXOTH)) return false;
  }
  return true;
}

TEST(Lifecycle, SigtermStopsCleanlyAndRemovesTheSocket) {
  TempDir dir;
  Syncd syncd(dir);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  struct stat st {};
  ASSERT_EQ(::stat(syncd.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(exit_code(syncd.stop()), 0);
  EXPECT_NE(::stat(syncd.socket().c_str(), &st), 0);
  EXPECT_NE(syncd.log().find("SIGTERM: stopping"), std::string::npos);
}

TEST(Lifecycle, TheApplierRunsInIdleTimeAsRootAndAtNice10AsAnUnprivilegedUser) {
  TempDir dir;
  Syncd as_root(dir);
  ASSERT_TRUE(as_root.start()) << as_root.log();
  auto root_applier = thread_scheduling(as_root.process()->pid(), "syncd-applier");
  ASSERT_TRUE(root_applier);
  EXPECT_EQ(root_applier->policy, SCHED_IDLE);  // root may raise it again when the loop waits
  as_root.stop();

  if (::geteuid() != 0 || !reachable_by_others(dir.path()) ||
      std::system("command -v prlimit >/dev/null && command -v setpriv >/dev/null") != 0) {
    GTEST_SKIP() << "needs root to become another user, prlimit and setpriv (util-linux), "
                    "and a temp dir others can reach";
  }
  // `nobody`, with no right to leave SCHED_IDLE again (RLIMIT_NICE 0), on its own dir.
  const std::string home = dir.file("nobody");
  ASSERT_EQ(::mkdir(home.c_str(), 0700), 0);
  ASSERT_EQ(::chown(home.c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  // A copy of syncd beside it: the build tree may sit where `nobody` cannot go.
  const std::string binary = dir.file("syncd");
  std::filesystem::copy_file(syncd_bin(), binary);
  std::filesystem::permissions(binary, std::filesystem::perms::owner_all |
                                           std::filesystem::perms::others_read |
                                           std::filesystem::perms::others_exec);
  const std::string socket = home + "/syncd.sock";
  Process unprivileged({"/usr/bin/env", "prlimit", "--nice=0:0", "setpriv", "--reuid=65534",
                        "--regid=65534", "--clear-groups", binary, "--state-dir", home + "/state",
                        "--socket", socket, "--remote", "http://127.0.0.1:1"},
                       home + "/log", home + "/log");
  ASSERT_TRUE(wait_until(
      [&] {
        Client probe(socket);
        return !unprivileged.running() ||
               (probe.connected() && probe.call("status").HasMember("result"));
      },
      Millis(20000)));
  ASSERT_TRUE(unprivileged.running()) << read_file(home + "/log");
  Client client(socket);
  JsonDocument put = client.call("put", R"({"collection":"notes","id":"a","data":{"n":1}})");
  EXPECT_TRUE(put.HasMember("result")) << read_file(home + "/log");
  auto applier = thread_scheduling(unprivileged.pid(), "syncd-applier");
  ASSERT_TRUE(applier);
  EXPECT_EQ(applier->policy, SCHED_OTHER);
  EXPECT_EQ(applier->nice, 10);
  unprivileged.signal(SIGTERM);
  EXPECT_EQ(exit_code(unprivileged.wait_exit(Millis(10000))), 0) << read_file(home + "/log");
  struct stat st {};
  ASSERT_EQ(::stat((home + "/state/syncd.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
}

TEST(Lifecycle, ASecondDaemonOnTheSameStateDirIsRefused) {
  TempDir dir;
  Syncd first(dir);
  ASSERT_TRUE(first.start()) << first.log();
  CommandResult second = run_command(
      {syncd_bin(), "--state-dir", first.state_dir(), "--socket", dir.file("other.sock")});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("another syncd (pid " + std::to_string(first.process()->pid()) +
                            ") is running on state dir"),
            std::string::npos)
      << second.err;
  Client client(first.socket());
  EXPECT_TRUE(client.call("status").HasMember("result")) << "the first one is untouched";
}

TEST(Lifecycle, ALiveSocketOfAnotherDaemonIsNotTaken) {
  TempDir dir;
  Syncd first(dir);
  ASSERT_TRUE(first.start()) << first.log();
  CommandResult second =
      run_command({syncd_bin(), "--state-dir", dir.file("state2"), "--socket", first.socket()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("is in use by another process"), std::string::npos) << second.err;
  Client client(first.socket());
  EXPECT_TRUE(client.call("status").HasMember("result"));
}

TEST(Lifecycle, AStaleSocketFileIsReplaced) {
  TempDir dir;
  Syncd syncd(dir);
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, syncd.socket().c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);  // the file stays, nobody listens: what a crash leaves behind
  }
  ASSERT_TRUE(syncd.start()) << syncd.log();
  EXPECT_NE(syncd.log().find("replacing stale socket"), std::string::npos);
}

TEST(Lifecycle, ACorruptDatabaseIsRefusedWithAClearMessage) {
  TempDir dir;
  Syncd syncd(dir);
  ::mkdir(syncd.state_dir().c_str(), 0750);
  std::string garbage;
  for (int i = 0; i < 500; ++i) garbage += "definitely not a database ";
  write_file(syncd.state_dir() + "/syncd.db", garbage);
  EXPECT_FALSE(syncd.start());
  EXPECT_EQ(exit_code(syncd.process()->wait_exit(Millis(5000))), 1);
  EXPECT_NE(syncd.log().find("refusing to start"), std::string::npos) << syncd.log();
  EXPECT_EQ(read_file(syncd.state_dir() + "/syncd.db"), garbage) << "the file is left as it was";
}

TEST(Lifecycle, SighupReloadsAValidConfigAndRefusesAnInvalidOne) {
  TempDir dir;
  Syncd syncd(dir, R"({"log_level": "info", "store": {"max_document_bytes": 4096}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  std::string big =
      R"({"collection":"c","id":"a","data":{"x":")" + std::string(6000, 'y') + R"("}})";
  EXPECT_EQ(std::string(client.call("put", big)["error"]["data"]["reason"].GetString()),
            "too_large");

  write_file(syncd.config_path(),
             R"({"log_level": "info", "store": {"max_document_bytes": 65536}})");
  syncd.process()->signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] {
        return syncd.log().find("store.max_document_bytes: 4096 -> 65536") != std::string::npos;
      },
      Millis(10000)))
      << syncd.log();
  EXPECT_TRUE(client.call("put", big).HasMember("result")) << "the new limit applies";

  write_file(syncd.config_path(), R"({"log_level": "loud"})");
  syncd.process()->signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return syncd.log().find("reload refused") != std::string::npos; },
                         Millis(10000)));
  EXPECT_NE(syncd.log().find("log_level: expected one of"), std::string::npos);
  EXPECT_TRUE(client.call("status").HasMember("result")) << "still serving on the old config";
}

TEST(Lifecycle, CheckConfigReportsErrorsAndVersionAndHelpWork) {
  TempDir dir;
  write_file(dir.file("bad.json"), R"({"ipc": {"max_frame_bytes": "big"}})");
  CommandResult bad =
      run_command({syncd_bin(), "--config", dir.file("bad.json"), "--check-config"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("ipc.max_frame_bytes: expected an integer, got string"), std::string::npos)
      << bad.err;
  write_file(dir.file("good.json"), "// ok\n{\"sync\": {\"batch_size\": 100}}");
  CommandResult good =
      run_command({syncd_bin(), "--config", dir.file("good.json"), "--check-config"});
  EXPECT_EQ(good.exit_code, 0);
  EXPECT_NE(good.out.find("sync.batch_size = 100"), std::string::npos) << good.out;
  CommandResult shipped = run_command(
      {syncd_bin(), "--config", SYNCD_SOURCE_DIR "/systemd/syncd.json", "--check-config"});
  EXPECT_EQ(shipped.exit_code, 0) << "the example config in systemd/ is valid: " << shipped.err;
  EXPECT_EQ(run_command({syncd_bin(), "--version"}).out, "syncd " SYNCD_VERSION "\n");
  EXPECT_EQ(run_command({syncd_bin(), "--help"}).exit_code, 0);
  EXPECT_EQ(run_command({syncd_bin(), "--bogus"}).exit_code, 2);
  EXPECT_EQ(run_command({syncd_bin(), "--log-level", "loud", "--check-config"}).exit_code, 1);
}

// Connects as uid/gid in a child process and returns the first line syncd sends after
// a `status` request (or "" when the connection is refused or closed silently).
std::string first_line_as(const std::string& socket, uid_t uid, gid_t gid, const TempDir& dir) {
  std::string out = dir.file("peer-" + std::to_string(uid) + "-" + std::to_string(gid));
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) _exit(10);
    Client client(socket);
    if (!client.connected()) _exit(11);
    client.send_raw("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\n");
    auto line = client.read_line(Millis(10000));
    write_file(out, line.value_or(""));
    _exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return read_file(out);
}

TEST(Lifecycle, PeerCredentialsAreCheckedAgainstTheAllowedLists) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as other users";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0777);  // the children write their results here
  Syncd syncd(dir, R"({"ipc": {"allowed_uids": [4242], "allowed_gids": [5151]}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  // Open the socket file itself so that only SO_PEERCRED stands in the way.
  ASSERT_EQ(::chmod(syncd.socket().c_str(), 0666), 0);
  std::string refused = first_line_as(syncd.socket(), 65534, 65534, dir);
  EXPECT_NE(refused.find("\"forbidden\""), std::string::npos) << refused;
  EXPECT_NE(refused.find("uid 65534 gid 65534 is not in ipc.allowed_uids"), std::string::npos);
  EXPECT_NE(first_line_as(syncd.socket(), 4242, 65534, dir).find("\"result\""), std::string::npos);
  EXPECT_NE(first_line_as(syncd.socket(), 65534, 5151, dir).find("\"result\""), std::string::npos);
  Client root(syncd.socket());
  EXPECT_EQ(root.call("metrics")["result"]["connections_refused"].GetInt(), 1);
}

// A full disk: writes get storage_full, nothing acknowledged is lost, reads go on, and
// writes work again once there is room. Needs root for a small tmpfs.
TEST(Lifecycle, AFullDiskRefusesWritesCleanlyAndRecovers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  TempDir dir;
  const std::string mount_point = dir.file("small");
  ::mkdir(mount_point.c_str(), 0755);
  if (std::system(("mount -t tmpfs -o size=3m tmpfs " + mount_point + " 2>/dev/null").c_str()) !=
      0) {
    GTEST_SKIP() << "cannot mount a tmpfs here";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { std::system(("umount -l " + path + " 2>/dev/null").c_str()); }
  } unmount{mount_point};
  // Room that can be given back later.
  write_file(mount_point + "/filler", std::string(1 << 20, 'f'));
  Syncd syncd(dir, "", {"--state-dir", mount_point + "/state"});
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  const std::string body = R"({"pad":")" + std::string(20000, 'p') + R"("})";
  std::vector<std::string> acked;
  std::string reason;
  for (int i = 0; i < 400 && reason.empty(); ++i) {
    std::string id = "d" + std::to_string(i);
    JsonDocument r =
        client.call("put", R"({"collection":"full","id":")" + id + R"(","data":)" + body + "}");
    ASSERT_TRUE(r.IsObject()) << "syncd stopped answering at " << i << "\n" << syncd.log();
    if (r.HasMember("result")) {
      acked.push_back(id);
    } else {
      reason = r["error"]["data"]["reason"].GetString();
    }
  }
  EXPECT_EQ(reason, "storage_full") << syncd.log();
  ASSERT_FALSE(acked.empty());
  // Everything acknowledged is still there, and the daemon still serves.
  for (const auto& id : acked) {
    JsonDocument got = client.call("get", R"({"collection":"full","id":")" + id + "\"}");
    ASSERT_TRUE(got.HasMember("result")) << id;
  }
  JsonDocument status = client.call("status");
  EXPECT_EQ(status["result"]["queue"]["pending"].GetInt(), static_cast<int>(acked.size()));
  EXPECT_GE(client.call("metrics")["result"]["storage_errors"].GetInt(), 1);
  // Room again: writes succeed.
  ::unlink((mount_point + "/filler").c_str());
  JsonDocument again =
      client.call("put", R"({"collection":"full","id":"after","data":{"ok":true}})");
  EXPECT_TRUE(again.HasMember("result")) << to_json(again);
  EXPECT_EQ(exit_code(syncd.stop()), 0);
}

// After a disk-full episode syncd used to refuse to start until more room was free than
// had been freed. A start on a full disk must serve reads and answer writes (durably into
// the journal, or storage_full), and once there is room take writes and sync again,
// without a restart: the writes the journal held and the pushes that were in flight at
// the kill reach the server once each.
TEST(Lifecycle, AStartOnAFullDiskServesReadsAndTakesWritesOnceThereIsRoom) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  TempDir dir;
  const std::string mount_point = dir.file("small");
  ::mkdir(mount_point.c_str(), 0755);
  if (std::system(("mount -t tmpfs -o size=48m tmpfs " + mount_point + " 2>/dev/null").c_str()) !=
      0) {
    GTEST_SKIP() << "cannot mount a tmpfs here";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { std::system(("umount -l " + path + " 2>/dev/null").c_str()); }
  } unmount{mount_point};
  // What each file on the small disk holds, for a failure's message.
  auto disk_report = [&] {
    std::string out = "on the 48 MB disk:";
    std::error_code ec;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(mount_point, ec)) {
      if (entry.is_regular_file(ec)) {
        out += " " + entry.path().filename().string() + "=" +
               std::to_string(entry.file_size(ec) >> 10) + "K";
      }
    }
    const std::filesystem::space_info space = std::filesystem::space(mount_point, ec);
    return out + "; free " + std::to_string(space.available >> 10) + "K";
  };
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  http_post(server.url() + "/admin/faults", R"({"delay_ms": 1500})");  // pushes stay in flight
  Syncd syncd(dir, R"({"backoff": {"initial_ms": 50, "max_ms": 200}})",
              {"--state-dir", mount_point + "/state"}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  std::vector<std::string> acked;
  std::vector<std::string> mutation_ids;
  const std::string body = R"({"pad":")" + std::string(20000, 'p') + R"("})";
  Client writer(syncd.socket());
  auto put = [&](const std::string& id) {
    JsonDocument r =
        writer.call("put", R"({"collection":"full","id":")" + id + R"(","data":)" + body + "}");
    if (r.IsObject() && r.HasMember("result")) {
      acked.push_back(id);
      mutation_ids.push_back(r["result"]["mutation_id"].GetString());
    }
    return r;
  };
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(put("d" + std::to_string(i)).HasMember("result"));
  // Something else fills the disk: one large file, then small ones until none fits.
  {
    int fd = ::open((mount_point + "/filler").c_str(), O_WRONLY | O_CREAT, 0644);
    const std::string chunk(1 << 20, 'f');
    while (::write(fd, chunk.data(), chunk.size()) == static_cast<ssize_t>(chunk.size())) {
    }
    ::close(fd);
    for (int i = 0;; ++i) {
      fd = ::open((mount_point + "/fill" + std::to_string(i)).c_str(), O_WRONLY | O_CREAT, 0644);
      if (fd < 0) break;
      const bool full = ::write(fd, chunk.data(), 4096) != 4096;
      ::close(fd);
      if (full) break;
    }
  }
  // Writes go on into the preallocated journal (while the tables cannot take them) until
  // the journal is full too; none is lost.
  std::string reason;
  for (int i = 100; i < 1000 && reason.empty(); ++i) {
    JsonDocument r = put("d" + std::to_string(i));
    ASSERT_TRUE(r.IsObject()) << "syncd stopped answering at " << i << "\n" << syncd.log();
    if (r.HasMember("error")) reason = r["error"]["data"]["reason"].GetString();
  }
  EXPECT_EQ(reason, "storage_full");
  syncd.kill9();
  ASSERT_TRUE(syncd.start()) << "a full disk kept syncd from starting:\n" << syncd.log();
  Client client(syncd.socket());
  JsonDocument got = client.call("get", R"({"collection":"full","id":")" + acked.back() + "\"}");
  EXPECT_TRUE(got.HasMember("result")) << to_json(got);
  // A write is answered: taken into the journal when it has room (its records wait for
  // the tables), else storage_full.
  JsonDocument r = client.call("put", R"({"collection":"full","id":"new","data":{"pad":")" +
                                          std::string(100000, 'n') + R"("}})");
  ASSERT_TRUE(r.IsObject()) << syncd.log();
  if (r.HasMember("result")) {
    acked.push_back("new");
    mutation_ids.push_back(r["result"]["mutation_id"].GetString());
  } else {
    EXPECT_STREQ(r["error"]["data"]["reason"].GetString(), "storage_full") << to_json(r);
  }
  // Room again: the waiting writes go in, new ones are taken, the queue drains.
  http_post(server.url() + "/admin/faults", R"({"reset": true})");
  ::unlink((mount_point + "/filler").c_str());
  for (int i = 0; ::unlink((mount_point + "/fill" + std::to_string(i)).c_str()) == 0; ++i) {
  }
  EXPECT_TRUE(wait_until(
      [&] {
        return client.call("put", R"({"collection":"full","id":"after","data":{"ok":true}})")
            .HasMember("result");
      },
      Millis(10000)))
      << disk_report() << "\n"
      << syncd.log();
  for (const auto& id : acked) {
    ASSERT_TRUE(
        client.call("get", R"({"collection":"full","id":")" + id + "\"}").HasMember("result"))
        << id;
  }
  ASSERT_TRUE(wait_until(
      [&] {
        JsonDocument s = client.call("status");  // q must not outlive its document
        const JsonValue& q = s["result"]["queue"];
        return q["pending"].GetInt() + q["inflight"].GetInt() == 0;
      },
      Millis(30000)))
      << to_json(client.call("status")) << "\n"
      << disk_report() << "\n"
      << syncd.log();
  JsonDocument applied;
  ASSERT_FALSE(parse_json(http_get(server.url() + "/admin/applied").body, applied));
  std::map<std::string, int> times;
  for (const auto& a : applied["applied"].GetArray()) ++times[a["id"].GetString()];
  for (const auto& id : mutation_ids) EXPECT_EQ(times[id], 1) << id;
  EXPECT_EQ(exit_code(syncd.stop()), 0);
}

// Issue 8, defect 11: syncd.db, -wal and -shm were created 0644. They hold the users'
// documents: the daemon user's alone, new or found readable by others.
TEST(Lifecycle, TheDatabaseAndJournalFilesAreTheDaemonUsersAlone) {
  TempDir dir;
  auto mode_of = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
  };
  Syncd syncd(dir);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  {
    Client client(syncd.socket());
    ASSERT_TRUE(
        client.call("put", R"({"collection":"c","id":"a","data":{"v":1}})").HasMember("result"));
  }
  const std::string state = syncd.state_dir();
  for (const char* name :
       {"syncd.db", "syncd.db-wal", "syncd.db-shm", "journal.0", "journal.1", "journal.mark"}) {
    EXPECT_EQ(mode_of(state + "/" + name), 0600) << name;
  }
  EXPECT_EQ(syncd.stop(), 0);
  ASSERT_EQ(::chmod((state + "/syncd.db").c_str(), 0644), 0);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  EXPECT_EQ(mode_of(state + "/syncd.db"), 0600);
  EXPECT_NE(syncd.log().find("syncd.db was mode 0644"), std::string::npos) << syncd.log();
  EXPECT_EQ(mode_of(state + "/syncd.db-wal"), 0600);
  EXPECT_EQ(syncd.stop(), 0);
}

// What syncd tells systemd, read from a NOTIFY_SOCKET of our own.
TEST(Lifecycle, TellsSystemdReadyWatchdogStatusAndStopping) {
  TempDir dir;
  const std::string notify_path = dir.file("notify.sock");
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string messages;
  auto receive_until = [&](const std::string& needle, Millis timeout) {
    return wait_until(
        [&] {
          char buffer[4096];
          ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
          if (n > 0) messages.append(buffer, static_cast<size_t>(n)).append("\n");
          return messages.find(needle) != std::string::npos;
        },
        timeout);
  };
  Process syncd({syncd_bin(), "--state-dir", dir.file("state"), "--socket", dir.file("s.sock"),
                 "--remote", "http://127.0.0.1:1"},
                dir.file("log"), dir.file("log"),
                {{"NOTIFY_SOCKET", notify_path}, {"WATCHDOG_USEC", "200000"}});
  EXPECT_TRUE(receive_until("READY=1", Millis(20000))) << messages << read_file(dir.file("log"));
  // Pings at half the watchdog interval: several within a second.
  const size_t ready_at = messages.size();
  EXPECT_TRUE(wait_until(
      [&] {
        receive_until("WATCHDOG=1", Millis(10));
        size_t count = 0;
        for (size_t at = messages.find("WATCHDOG=1", ready_at); at != std::string::npos;
             at = messages.find("WATCHDOG=1", at + 1)) {
          ++count;
        }
        return count >= 3;
      },
      Millis(10000)))
      << messages;
  // STATUS= says connectivity and queue depth, and again when they change.
  EXPECT_TRUE(receive_until("STATUS=offline; queue 0 pending, 0 inflight, 0 failed, 0 conflict",
                            Millis(10000)))
      << messages;
  Client client(dir.file("s.sock"));
  for (int i = 0; i < 3; ++i) {
    client.call("put", R"({"collection":"n","id":"d)" + std::to_string(i) + R"(","data":{}})");
  }
  EXPECT_TRUE(receive_until("STATUS=offline; queue 3 pending", Millis(10000))) << messages;
  syncd.signal(SIGTERM);
  EXPECT_TRUE(receive_until("STOPPING=1", Millis(10000))) << messages;
  EXPECT_EQ(exit_code(syncd.wait_exit(Millis(10000))), 0);
  ::close(fd);
}

TEST(Lifecycle, WithLogFormatJsonEveryLogLineIsOneObject) {
  TempDir dir;
  Syncd syncd(dir, "", {"--log-format", "json", "--log-level", "debug"});
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  client.call("put", R"({"collection":"j","id":"a \"quoted\"\nid","data":{}})");
  ASSERT_EQ(syncd.stop(), 0);
  std::istringstream lines(syncd.log());
  std::string line;
  int count = 0;
  bool saw_serving = false;
  while (std::getline(lines, line)) {
    JsonDocument doc;
    ASSERT_FALSE(parse_json(line, doc)) << "not JSON: " << line;
    ASSERT_TRUE(doc.IsObject() && doc["time"].IsString() && doc["level"].IsString() &&
                doc["message"].IsString())
        << line;
    EXPECT_EQ(std::string(doc["time"].GetString()).size(), 24u) << line;  // ...T..:..:..mmmZ
    saw_serving |= std::string(doc["message"].GetString()).rfind("syncd 0", 0) == 0;
    ++count;
  }
  EXPECT_GE(count, 3);
  EXPECT_TRUE(saw_serving) << syncd.log();
  CommandResult bad = run_command({syncd_bin(), "--log-format", "yaml", "--check-config"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--log-format: expected text or json, got \"yaml\""), std::string::npos)
      << bad.err;
}

TEST(Lifecycle, JsonLogLinesCarryTheMutationTheCollectionAndTheHttpStatus) {
  TempDir dir;
  RefServer server(dir);
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_TRUE(server.hold_pushes());
  Syncd syncd(dir, R"({"backoff": {"initial_ms": 20, "max_ms": 200}})",
              {"--log-format", "json", "--log-level", "debug"}, server.url());
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  JsonDocument put = client.call("put", R"({"collection":"logged","id":"d1","data":{}})");
  const std::string id = put["result"]["mutation_id"].GetString();
  ASSERT_TRUE(server.reject({id}, "not allowed"));
  client.call("sync.now");
  ASSERT_TRUE(
      wait_until([&] { return client.call("status")["result"]["queue"]["failed"].GetInt64() == 1; },
                 Millis(20000)))
      << syncd.log();
  ASSERT_EQ(syncd.stop(), 0);
  bool dead_letter = false;
  bool http_status = false;
  bool online = false;
  std::istringstream lines(syncd.log());
  for (std::string line; std::getline(lines, line);) {
    JsonDocument doc;
    ASSERT_FALSE(parse_json(line, doc)) << line;
    const std::string message = doc["message"].GetString();
    if (message.rfind("sync: dead letter", 0) == 0) {
      dead_letter = true;
      EXPECT_EQ(std::string(doc["mutation_id"].GetString()), id) << line;
      EXPECT_STREQ(doc["collection"].GetString(), "logged") << line;
      EXPECT_STREQ(doc["doc_id"].GetString(), "d1") << line;
      EXPECT_NE(std::string(doc["reason"].GetString()).find("not allowed"), std::string::npos);
    }
    if (message.rfind("http: POST /v1/push", 0) == 0 && doc.HasMember("http_status")) {
      http_status = true;
      EXPECT_TRUE(doc["http_status"].IsInt()) << line;
      EXPECT_TRUE(doc["duration_ms"].IsInt64()) << line;
    }
    if (message == "sync: online") {
      online = true;
      EXPECT_STREQ(doc["connectivity"].GetString(), "online") << line;
    }
  }
  EXPECT_TRUE(dead_letter && http_status && online) << syncd.log();
}

}  // namespace
}  // namespace syncd::testing
