// Socket activation (systemd/syncd.socket): syncd serves the listening socket systemd
// passes as fd 3 with LISTEN_FDS and LISTEN_PID, leaves its file in place when it stops,
// and a client that connects while syncd is down is answered once it is back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

// A socket at `path` as systemd makes one for ListenStream=, listening unless not asked.
int unix_socket_at(const std::string& path, bool listening = true) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      (listening && ::listen(fd, 16) != 0)) {
    return -1;
  }
  return fd;
}

TEST(SocketActivation, ServesThePassedSocketAndAClientWaitingThroughARestartIsAnswered) {
  TempDir dir;
  Syncd syncd(dir);
  const int listener = unix_socket_at(syncd.socket());
  ASSERT_GE(listener, 0) << std::strerror(errno);
  syncd.pass_socket(listener);
  ASSERT_TRUE(syncd.start()) << syncd.log();
  EXPECT_NE(syncd.log().find("serving " + syncd.socket() + " (socket activation)"),
            std::string::npos)
      << syncd.log();
  {
    Client client(syncd.socket());
    ASSERT_TRUE(client.call("put", R"({"collection":"notes","id":"a","data":{"v":1}})")
                    .HasMember("result"));
  }
  EXPECT_EQ(exit_code(syncd.stop()), 0) << syncd.log();
  struct stat st {};
  ASSERT_EQ(::lstat(syncd.socket().c_str(), &st), 0) << "the socket file is systemd's to remove";
  EXPECT_TRUE(S_ISSOCK(st.st_mode));

  // syncd is down: the kernel queues the connection on the socket systemd (here: the
  // test) still holds, and the request waits in it.
  Client waiting(syncd.socket());
  ASSERT_TRUE(waiting.connected());
  ASSERT_TRUE(waiting.send_raw(
      R"({"jsonrpc":"2.0","id":7,"method":"get","params":{"collection":"notes","id":"a"}})"
      "\n"));
  syncd.launch();
  const auto line = waiting.read_line(Millis(30000));
  ASSERT_TRUE(line) << syncd.log();
  EXPECT_NE(line->find(R"("id":7)"), std::string::npos) << *line;
  EXPECT_NE(line->find(R"("data":{"v":1})"), std::string::npos) << *line;
  EXPECT_EQ(syncd.log().find("systemd passed the socket"), std::string::npos)
      << "the passed socket is the configured one: no warning\n"
      << syncd.log();
  ::close(listener);
}

TEST(SocketActivation, APassedFdThatIsNotAListeningUnixSocketIsRefusedNamingIt) {
  TempDir dir;
  {
    Syncd syncd(dir, "", {}, "http://127.0.0.1:1", "file");
    const int file = ::open(dir.file("not-a-socket").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(file, 0);
    syncd.pass_socket(file);
    EXPECT_FALSE(syncd.start());
    EXPECT_EQ(exit_code(syncd.process()->wait_exit(Millis(10000))), 1);
    EXPECT_NE(syncd.log().find("the socket systemd passed (fd 3) is not a listening Unix stream "
                               "socket"),
              std::string::npos)
        << syncd.log();
    ::close(file);
  }
  {
    Syncd syncd(dir, "", {}, "http://127.0.0.1:1", "bound");
    const int bound = unix_socket_at(dir.file("bound.sock"), /*listening=*/false);
    ASSERT_GE(bound, 0);
    syncd.pass_socket(bound);
    EXPECT_FALSE(syncd.start());
    EXPECT_NE(syncd.log().find("is not a listening Unix stream socket"), std::string::npos)
        << syncd.log();
    ::close(bound);
  }
}

TEST(SocketActivation, MoreThanOnePassedSocketIsRefused) {
  TempDir dir;
  CommandResult r =
      run_command({"/bin/sh", "-c",
                   R"(exec 3</dev/null 4</dev/null; LISTEN_PID=$$ LISTEN_FDS=2 exec "$0" "$@")",
                   syncd_bin(), "--state-dir", dir.file("state"), "--socket", dir.file("s.sock")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("systemd passed 2 sockets; syncd takes one"), std::string::npos) << r.err;
}

TEST(SocketActivation, APassedSocketElsewhereThanTheConfiguredOneIsServedWithAWarning) {
  TempDir dir;
  Syncd syncd(dir);
  const std::string elsewhere = dir.file("elsewhere.sock");
  const int listener = unix_socket_at(elsewhere);
  ASSERT_GE(listener, 0);
  syncd.pass_socket(listener);
  syncd.launch();
  ASSERT_TRUE(wait_until(
      [&] {
        Client client(elsewhere);
        return client.connected() && client.call("status").HasMember("result");
      },
      Millis(20000)))
      << syncd.log();
  EXPECT_NE(syncd.log().find("systemd passed the socket " + elsewhere + ", not the configured " +
                             syncd.socket()),
            std::string::npos)
      << syncd.log();
  ::close(listener);
}

}  // namespace
}  // namespace syncd::testing
