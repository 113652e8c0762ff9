#include "daemon/doctor.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "util/file_mode.h"
#include "util/url_encode.h"

namespace syncd {

const char* to_string(DoctorFinding::Outcome outcome) {
  switch (outcome) {
    case DoctorFinding::Outcome::ok:
      return "ok";
    case DoctorFinding::Outcome::fail:
      return "fail";
    case DoctorFinding::Outcome::skipped:
      return "skipped";
  }
  return "fail";
}

namespace {

using Outcome = DoctorFinding::Outcome;

DoctorFinding ok(const char* check, std::string detail) {
  return {check, Outcome::ok, std::move(detail), ""};
}
DoctorFinding fail(const char* check, std::string detail, std::string fix) {
  return {check, Outcome::fail, std::move(detail), std::move(fix)};
}

bool mentions(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

std::string bytes_text(int64_t bytes) {
  char buf[32];
  if (bytes >= (int64_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  } else {
    std::snprintf(buf, sizeof buf, "%.0f MiB", static_cast<double>(bytes) / (1 << 20));
  }
  return buf;
}

std::string ago_text(int64_t ms) {
  const int64_t s = ms / 1000;
  if (s < 120) return std::to_string(s) + " s";
  if (s < 7200) return std::to_string(s / 60) + " min";
  return std::to_string(s / 3600) + " h";
}

DoctorFinding check_config(const DoctorSetup& setup) {
  if (setup.config_path.empty()) {
    return ok("config", "running on the embedded default config (no file)");
  }
  // Reading a FIFO would hold the loop: only a regular file is read.
  struct stat st {};
  const bool there = ::stat(setup.config_path.c_str(), &st) == 0;
  if (!there || !S_ISREG(st.st_mode)) {
    return fail("config", setup.config_path + (there ? " is not a regular file" : " is gone"),
                "put the config back where syncd was started with it: a restart would fail");
  }
  try {
    if (setup.reread_config) setup.reread_config();
  } catch (const std::exception& e) {
    return fail("config", setup.config_path + " no longer reads: " + e.what(),
                "correct it (syncd --check-config --config " + setup.config_path +
                    " says what is wrong): a restart or SIGHUP would refuse it; the running "
                    "daemon keeps its config until then");
  }
  return ok("config", setup.config_path + " reads and validates as a restart would read it");
}

// Entries of the state dir looked at, at most: each doctor call runs on the loop.
constexpr int kMaxEntries = 10000;

// Files the users' documents or credentials are in: the daemon's user's alone. The lock
// (its pid) may be read by the group.
void check_modes(const std::string& dir, int depth, std::vector<DoctorFinding>& out,
                 int64_t& total_bytes, int& entries) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    out.push_back(fail("state_dir", "cannot list " + dir + ": " + std::strerror(errno),
                       "give the daemon's user read access to " + dir));
    return;
  }
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (++entries > kMaxEntries) {
      out.push_back({"state_dir", Outcome::skipped,
                     "more than " + std::to_string(kMaxEntries) +
                         " entries in the state dir: the rest not looked at",
                     ""});
      break;
    }
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;  // gone meanwhile
    // A link is judged by what it points at (never opened: a FIFO cannot hold the loop).
    if (S_ISLNK(st.st_mode) && ::stat(path.c_str(), &st) != 0) continue;
    if (S_ISSOCK(st.st_mode)) continue;  // the socket: syncctl's check
    if (st.st_uid != ::geteuid()) {
      out.push_back(fail("state_dir",
                         path + " belongs to uid " + std::to_string(st.st_uid) +
                             ", not to syncd's (" + std::to_string(::geteuid()) + ")",
                         "chown " + std::to_string(::geteuid()) + " " + path));
    }
    if (S_ISDIR(st.st_mode)) {
      if ((st.st_mode & 0027) != 0) {
        out.push_back(fail("state_dir",
                           path + " is mode " + octal_mode(st.st_mode) +
                               ": other users can reach or replace what it holds",
                           "chmod 0750 " + path));
      }
      if (depth < 1) check_modes(path, depth + 1, out, total_bytes, entries);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    total_bytes += static_cast<int64_t>(st.st_size);
    const mode_t allowed = name == "syncd.lock" ? 0640 : 0600;
    if ((st.st_mode & 0777 & ~allowed) != 0) {
      out.push_back(fail("state_dir",
                         path + " is mode " + octal_mode(st.st_mode) +
                             ": users other than syncd's may reach what it holds (documents "
                             "or credentials)",
                         "chmod " + octal_mode(allowed) + " " + path));
    }
  }
  ::closedir(d);
}

void check_state_dir(const DoctorSetup& setup, const DoctorLimits& limits,
                     std::vector<DoctorFinding>& out) {
  struct stat st {};
  if (::stat(setup.state_dir.c_str(), &st) != 0) {
    out.push_back(fail("state_dir", setup.state_dir + ": " + std::strerror(errno),
                       "restart syncd: it creates its state directory"));
    return;
  }
  const size_t before = out.size();
  if ((st.st_mode & 0027) != 0) {
    out.push_back(fail("state_dir",
                       setup.state_dir + " is mode " + octal_mode(st.st_mode) +
                           ": other users can reach or replace the database",
                       "chmod 0750 " + setup.state_dir));
  }
  int64_t store_bytes = 0;
  int entries = 0;
  check_modes(setup.state_dir, 0, out, store_bytes, entries);
  if (out.size() == before) {
    out.push_back(ok("state_dir", setup.state_dir + " and every file in it: the daemon's user's "
                                                    "alone"));
  }

  struct statvfs fs {};
  if (::statvfs(setup.state_dir.c_str(), &fs) != 0) {
    out.push_back(fail("disk", "statvfs " + setup.state_dir + ": " + std::strerror(errno),
                       "check the filesystem holding " + setup.state_dir));
    return;
  }
  const int64_t free_bytes = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  const int64_t needed = std::max(limits.min_free_bytes, store_bytes);
  const std::string found = bytes_text(free_bytes) + " free where " + setup.state_dir +
                            " is; the store takes " + bytes_text(store_bytes);
  if (free_bytes < needed) {
    out.push_back(fail("disk", found + " (at least " + bytes_text(needed) + " wanted)",
                       "free space on that filesystem, or move state_dir to a larger one: "
                       "when it fills, writes fail with storage_full"));
  } else {
    out.push_back(ok("disk", found));
  }
}

bool tls_error(const std::string& error) { return mentions(error, "TLS"); }

DoctorFinding check_remote(const DoctorSetup& setup, const DoctorState& state) {
  const SyncStatus& s = state.sync;
  const std::string where = setup.remote_url + " (protocol " + setup.remote_protocol + ")";
  const std::string when =
      s.last_contact_ms ? ", " + ago_text(state.now_ms - *s.last_contact_ms) + " ago" : "";
  if (s.connectivity == Connectivity::online && s.auth != "failed" && s.auth != "auth_failed") {
    return ok("remote", where + " answered" + when);
  }
  if (!s.last_contact_ms) {
    return fail("remote", where + ": no answer yet",
                "wait for the first attempt, or see syncctl status");
  }
  const std::string& e = s.last_error;
  std::string fix;
  if (s.auth == "failed" || s.auth == "auth_failed") {
    fix =
        "the remote refuses the credentials: install new ones with syncctl auth set-token "
        "--file FILE (or syncctl auth login), or correct auth.* in the config";
  } else if (tls_error(e)) {
    fix = "see the tls finding";
  } else if (mentions(e, "not permitted") || mentions(e, "Permission denied")) {
    fix =
        "a local policy blocks the connection: the unit's IPAddressDeny=any lets through only "
        "addresses in IPAddressAllow= (add the remote's and the DNS servers' in a drop-in, "
        "systemd/syncd.service.d/remote.conf.example), or a firewall";
  } else if (mentions(e, "refused") || mentions(e, "Couldn't connect")) {
    fix = "nothing accepts connections there: start the server, or correct remote.url";
  } else if (mentions(e, "resolve")) {
    fix = "the host name does not resolve: check remote.url and this machine's DNS";
  } else if (mentions(e, "imed out") || mentions(e, "timeout")) {
    fix =
        "no answer in time: check the route and firewalls to the remote, and the unit's "
        "IPAddressAllow= drop-in (systemd/syncd.service.d/remote.conf.example)";
  } else if (mentions(e, "select/poll") || mentions(e, "Recv failure") ||
             mentions(e, "Empty reply") || mentions(e, "reset")) {
    fix =
        "the connection broke during a request (the server went away, or something between "
        "closed it): it is tried again after the backoff; if it goes on, check what sits "
        "between syncd and the remote";
  } else if (mentions(e, "answered")) {
    fix = "the server answers, but not as a " + setup.remote_protocol +
          " remote should: check remote.url and remote.protocol";
  } else {
    fix = "check remote.url and the network; syncctl status shows the state";
  }
  return fail("remote", where + ": " + (e.empty() ? "offline" : e) + when, fix);
}

DoctorFinding check_tls(const DoctorSetup& setup, const DoctorState& state) {
  const std::string host = url_host(setup.remote_url);
  const bool https = setup.remote_url.rfind("https://", 0) == 0;
  if (!https) {
    if (is_loopback_host(host)) return ok("tls", "plain http:// to loopback: TLS not needed");
    return fail("tls",
                "plain http:// to " + host + ": documents" +
                    (setup.sends_credentials ? " and credentials" : "") +
                    " cross the network unencrypted" +
                    (setup.allow_insecure_http ? " (remote.allow_insecure_http)" : ""),
                "use an https:// remote.url");
  }
  if (setup.tls_insecure_skip_verify) {
    return fail("tls",
                "certificate verification is off (tls.insecure_skip_verify): anyone on the path "
                "can pose as the server",
                "remove tls.insecure_skip_verify; if the server's CA is not in the system's "
                "bundle, name it in tls.ca_file");
  }
  const std::string& e = state.sync.last_error;
  if (state.sync.connectivity == Connectivity::offline && tls_error(e)) {
    std::string fix = "check the tls.* settings against the server's certificate";
    if (mentions(e, "expired")) {
      fix = "renew the server's certificate, or correct this machine's clock if it is wrong";
    } else if (mentions(e, "host name")) {
      fix = "use in remote.url a host name the server's certificate names";
    } else if (mentions(e, "not trusted")) {
      fix = "name the CA that signed the server's certificate in tls.ca_file";
    } else if (mentions(e, "pinned")) {
      fix =
          "the server's key changed: add its new pin to tls.pinned_pubkey (keep the old one "
          "until every server has rotated)";
    } else if (mentions(e, "client cert")) {
      fix = "set tls.client_cert and tls.client_key to a certificate the server accepts";
    }
    return fail("tls", e, fix);
  }
  std::string detail =
      "verified against " +
      (setup.tls_ca_file.empty() ? std::string("the system's CA bundle") : setup.tls_ca_file);
  if (setup.tls_pinned_pubkeys > 0) {
    detail += ", " + std::to_string(setup.tls_pinned_pubkeys) + " pinned key(s)";
  }
  if (setup.tls_client_cert) detail += ", with a client certificate";
  if (state.sync.connectivity == Connectivity::offline) {
    return {"tls", Outcome::skipped, detail + "; not checked: no handshake has succeeded", ""};
  }
  return ok("tls", detail);
}

DoctorFinding check_clock(const DoctorState& state, const DoctorLimits& limits) {
  const SyncStatus& s = state.sync;
  if (!s.clock_skew_ms) {
    return {"clock", Outcome::skipped,
            s.connectivity == Connectivity::online
                ? "not checked: the remote's answers carry no Date header"
                : "not checked: no answer from the remote to compare with",
            ""};
  }
  const int64_t skew = *s.clock_skew_ms;
  const int64_t magnitude = skew < 0 ? -skew : skew;
  if (magnitude <= limits.max_clock_skew_ms) {
    return ok("clock", "within " + std::to_string(magnitude / 1000 + 1) +
                           " s of the remote's (its Date header)");
  }
  return fail("clock",
              "this machine's clock is " + ago_text(magnitude) +
                  (skew > 0 ? " behind" : " ahead of") + " the remote's (its Date header)",
              "turn on time synchronisation (timedatectl set-ntp true), or correct the "
              "server's clock: tokens' expiry and certificates' validity are judged by it");
}

void check_queue(const DoctorState& state, const DoctorLimits& limits,
                 std::vector<DoctorFinding>& out) {
  const size_t before = out.size();
  const QueueCounts& q = state.queue;
  if (q.failed > 0) {
    out.push_back(fail("queue",
                       std::to_string(q.failed) +
                           " mutation(s) refused by the remote (dead letters): not sent again",
                       "see why with syncctl queue --failed; once the cause is fixed, "
                       "syncctl retry --all"));
  }
  if (q.conflict > 0) {
    out.push_back(fail("queue", std::to_string(q.conflict) + " conflict(s) wait for a person",
                       "syncctl conflicts, then syncctl resolve MUTATION_ID --take "
                       "local|remote|JSON"));
  }
  const SyncStatus& s = state.sync;
  if (state.oldest_pending_created_ms && s.reachable_since_ms) {
    // Waiting while offline is what the queue is for; only the time the remote answered
    // (online, or degraded: pushes answered 503 for ever are stuck too) counts.
    const int64_t waited =
        state.now_ms - std::max(*state.oldest_pending_created_ms, *s.reachable_since_ms);
    if (waited > limits.stuck_after_ms) {
      out.push_back(fail("queue",
                         "the oldest pending mutation has waited " + ago_text(waited) +
                             " while the remote answered" +
                             (s.last_error.empty() ? "" : "; last error: " + s.last_error),
                         "syncctl queue shows what waits; syncctl sync sends now"));
    }
  }
  if (out.size() == before) {
    std::string detail = std::to_string(q.pending + q.inflight) + " waiting to be sent";
    if (state.oldest_pending_created_ms) {
      detail += ", the oldest for " + ago_text(state.now_ms - *state.oldest_pending_created_ms);
    }
    out.push_back(ok("queue", detail));
  }
}

}  // namespace

std::vector<DoctorFinding> examine(const DoctorSetup& setup, const DoctorState& state,
                                   const DoctorLimits& limits) {
  std::vector<DoctorFinding> out;
  out.push_back(check_config(setup));
  check_state_dir(setup, limits, out);
  out.push_back(check_remote(setup, state));
  out.push_back(check_tls(setup, state));
  out.push_back(check_clock(state, limits));
  check_queue(state, limits, out);
  return out;
}

}  // namespace syncd
