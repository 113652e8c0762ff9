#include "cli/doctor.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/status_view.h"
#include "util/file_mode.h"

namespace syncd {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUnreachable = 3;

void add_finding(JsonValue& findings, JsonAllocator& alloc, const char* check, const char* outcome,
                 const std::string& detail, const std::string& fix = "") {
  JsonValue f(rapidjson::kObjectType);
  f.AddMember("check", rapidjson::StringRef(check), alloc);
  f.AddMember("outcome", rapidjson::StringRef(outcome), alloc);
  f.AddMember("detail", json_string(detail, alloc), alloc);
  if (!fix.empty()) f.AddMember("fix", json_string(fix, alloc), alloc);
  findings.PushBack(f, alloc);
}

std::string group_name(gid_t gid) {
  const group* g = ::getgrgid(gid);
  return g ? g->gr_name : std::to_string(gid);
}

std::string text_of(const JsonValue& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

size_t failures(const JsonValue& findings) {
  size_t n = 0;
  for (const auto& f : findings.GetArray()) n += text_of(f, "outcome") == "fail";
  return n;
}

}  // namespace

bool check_socket(const std::string& path, RpcClient& client, JsonValue& findings,
                  JsonAllocator& alloc) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      add_finding(findings, alloc, "socket", "fail", "no socket at " + path,
                  "start syncd (systemctl start syncd.socket syncd.service), or name its socket "
                  "with --socket or $SYNCD_SOCKET");
    } else {
      add_finding(findings, alloc, "socket", "fail", path + ": " + std::strerror(err),
                  err == EACCES ? "your user may not enter the socket's directory: add it to "
                                  "syncd's group (sudo usermod -aG syncd $USER, then log in "
                                  "again)"
                                : "check the path given by --socket or $SYNCD_SOCKET");
    }
    return false;
  }
  if (!S_ISSOCK(st.st_mode)) {
    add_finding(findings, alloc, "socket", "fail", path + " is not a socket",
                "point --socket or $SYNCD_SOCKET at syncd's socket");
    return false;
  }
  bool open_to_all = false;
  if ((st.st_mode & 0006) != 0) {
    open_to_all = true;
    add_finding(findings, alloc, "socket", "fail",
                path + " is mode " + octal_mode(st.st_mode) +
                    ": every local user can read and change every document",
                "syncd makes its socket 0660; with socket activation set SocketMode=0660 in "
                "syncd.socket (or use ipc.allowed_uids / ipc.grants)");
  }
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
  struct stat dst {};
  if (!dir.empty() && ::stat(dir.c_str(), &dst) == 0 && (dst.st_mode & 0002) != 0 &&
      (dst.st_mode & S_ISVTX) == 0) {
    open_to_all = true;
    add_finding(findings, alloc, "socket", "fail",
                dir + " is mode " + octal_mode(dst.st_mode) +
                    ": any user can put another socket in syncd's place",
                "chmod 0750 " + dir);
  }
  if (auto error = client.connect(path, 10)) {
    const auto said = [&error](const char* what) { return error->find(what) != std::string::npos; };
    add_finding(findings, alloc, "socket", "fail", *error,
                said(std::strerror(EACCES))
                    ? "your user may not use the socket (mode " + octal_mode(st.st_mode) +
                          ", group " + group_name(st.st_gid) +
                          "): add it to that group (sudo usermod -aG " + group_name(st.st_gid) +
                          " $USER, then log in again)"
                : said(std::strerror(ECONNREFUSED))
                    ? "a socket is there but nothing accepts on it: syncd is not running "
                      "(systemctl start syncd; journalctl -u syncd says why it stopped)"
                    : "check that syncd runs and listens on " + path);
    return false;
  }
  if (!open_to_all) {
    add_finding(
        findings, alloc, "socket", "ok",
        path + ": reachable, mode " + octal_mode(st.st_mode) + ", group " + group_name(st.st_gid));
  }
  return true;
}

std::string render_findings(const JsonValue& findings, bool colour) {
  std::string out;
  for (const auto& f : findings.GetArray()) {
    const std::string outcome = text_of(f, "outcome");
    std::string label = outcome == "ok" ? "ok" : outcome == "fail" ? "FAIL" : "skip";
    char head[16];
    std::snprintf(head, sizeof head, "%-5s", label.c_str());
    std::string painted = head;
    if (colour) {
      const char* code = outcome == "ok" ? "\x1b[32m" : outcome == "fail" ? "\x1b[31m" : "\x1b[33m";
      painted = code + painted + "\x1b[0m";
    }
    char check[16];
    std::snprintf(check, sizeof check, "%-10s", text_of(f, "check").c_str());
    out += painted + " " + check + " " + text_of(f, "detail") + "\n";
    const std::string fix = text_of(f, "fix");
    if (!fix.empty()) out += std::string(17, ' ') + "fix: " + fix + "\n";
  }
  const size_t failed = failures(findings);
  const size_t total = findings.Size();
  out += failed == 0
             ? "no problem found (" + std::to_string(total) + " findings)\n"
             : std::to_string(failed) + " of " + std::to_string(total) + " findings failed\n";
  return out;
}

int run_doctor(const std::string& socket, bool json, int64_t timeout_s, const Clock& clock) {
  JsonDocument findings(rapidjson::kArrayType);
  auto& alloc = findings.GetAllocator();
  RpcClient client;
  const bool reachable = check_socket(socket, client, findings, alloc);
  auto print = [&](const char* note) {
    if (json) {
      std::printf("%s\n", to_json(findings).c_str());
    } else {
      std::fputs(render_findings(findings, colour_wanted()).c_str(), stdout);
      if (note) std::printf("%s\n", note);
    }
  };
  if (!reachable) {
    print("the daemon's own checks need a connection to it");
    return kUnreachable;
  }
  // Try the remote now, skipping any backoff, and wait (bounded) for that attempt to end
  // so the remote, TLS and clock findings are about now.
  const int64_t asked_ms = clock.now_ms();
  JsonDocument ignored;
  if (auto error = client.call("sync.now", JsonDocument(), ignored)) {
    add_finding(findings, alloc, "socket", "fail", "syncd stopped answering: " + *error,
                "journalctl -u syncd says why");
    print(nullptr);
    return kUnreachable;
  }
  JsonDocument params(rapidjson::kObjectType);
  params.AddMember("since_ms", JsonValue(asked_ms), params.GetAllocator());
  const int64_t deadline = clock.monotonic_ms() + timeout_s * 1000;
  JsonDocument answer;
  const JsonDocument no_params;
  bool fresh = false;
  for (;;) {
    // Past the deadline, the checks whatever the freshness (no since_ms).
    const bool last = clock.monotonic_ms() >= deadline;
    answer = JsonDocument();
    if (auto error = client.call(
            "doctor",
            last ? static_cast<const JsonValue&>(no_params) : static_cast<const JsonValue&>(params),
            answer)) {
      add_finding(findings, alloc, "socket", "fail", "syncd stopped answering: " + *error,
                  "journalctl -u syncd says why");
      print(nullptr);
      return kUnreachable;
    }
    if (!answer.IsObject() || !answer.HasMember("result") || !answer["result"].IsObject()) break;
    const JsonValue& result = answer["result"];
    if (result.HasMember("fresh") && result["fresh"].IsTrue()) {
      fresh = !last;
      break;
    }
    if (last) break;
    ::usleep(100 * 1000);  // the polling period, not a wait for something
  }
  if (answer.IsObject() && answer.HasMember("error") && answer["error"].IsObject()) {
    const JsonValue& error = answer["error"];
    const bool unknown =
        error.HasMember("code") && error["code"].IsInt() && error["code"].GetInt() == -32601;
    add_finding(findings, alloc, "socket", "fail",
                "syncd refused doctor: " + text_of(error, "message"),
                unknown ? "this syncd is older than syncctl: use the syncctl that came with it"
                        : "ipc.allowed_uids / ipc.allowed_gids decide who may use the socket");
    print(nullptr);
    return kFailed;
  }
  if (!answer.IsObject() || !answer.HasMember("result")) {
    add_finding(findings, alloc, "socket", "fail", "syncd sent no answer to doctor",
                "journalctl -u syncd says why");
    print(nullptr);
    return kUnreachable;
  }
  const JsonValue& result = answer["result"];
  if (!result.IsObject() || !result.HasMember("checks") || !result["checks"].IsArray()) {
    add_finding(findings, alloc, "socket", "fail", "syncd's doctor answer has no checks",
                "use a syncctl of the same version as syncd");
    print(nullptr);
    return kFailed;
  }
  for (const auto& f : result["checks"].GetArray()) findings.PushBack(JsonValue(f, alloc), alloc);
  print(fresh ? nullptr
              : "(no attempt at the remote ended within the timeout: its findings are from "
                "the last one)");
  return failures(findings) == 0 ? kOk : kFailed;
}

}  // namespace syncd
