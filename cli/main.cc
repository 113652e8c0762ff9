// syncctl: the command-line client of syncd. Exit codes: 0 success, 1 the daemon
// reported an error, 2 bad usage, 3 the daemon is not reachable.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/doctor.h"
#include "cli/progress.h"
#include "cli/rpc_client.h"
#include "cli/status_view.h"
#include "cli/table.h"
#include "util/clock.h"
#include "util/json.h"

namespace {

using syncd::JsonDocument;
using syncd::JsonValue;

constexpr int kOk = 0;
constexpr int kDaemonError = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;

struct UsageError {
  std::string message;
};

struct Request {
  std::string method;
  JsonDocument params;  // null when the method takes none
  // Prints a successful result for people.
  std::function<void(const JsonValue& result)> print_human;
  // Asked again and printed again every second until interrupted (status --watch).
  bool watch = false;
  // Then waits until the queue has nothing pending or inflight, showing the progress,
  // for at most this long (sync --wait, retry --all --wait); 0: no wait.
  int64_t wait_drain_s = 0;
  // syncctl doctor (cli/doctor.h), waiting at most this long for a fresh attempt at the
  // remote; 0: another command.
  int64_t doctor_timeout_s = 0;
};

struct Command {
  const char* name;
  const char* synopsis;
  const char* help;
  std::function<Request(std::vector<std::string>&)> build;
};

constexpr const char* kGeneralHelp = R"(usage: syncctl [--socket PATH] [--json] COMMAND [ARGS]

Talks to syncd over its Unix socket. The socket is --socket, else $SYNCD_SOCKET, else
$XDG_RUNTIME_DIR/syncd/syncd.sock or /run/syncd/syncd.sock when present, else
./.syncd/syncd.sock.

commands:
)";

constexpr const char* kExitCodes = R"(
--json prints the daemon's result as JSON (one line) instead of a table.
exit codes: 0 success, 1 error reported by syncd, 2 bad usage, 3 syncd not reachable.
`syncctl COMMAND --help` describes one command.
)";

// Time for the status view (wall clock) and the drain wait (monotonic).
const syncd::SystemClock kClock;

std::string scalar(const JsonValue& v) {
  if (v.IsNull()) return "-";
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "yes" : "no";
  return syncd::to_json(v);
}

std::string field(const JsonValue& obj, const char* name) {
  if (!obj.IsObject()) return "-";
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? "-" : scalar(it->value);
}

// Pops the value of `--name VALUE` from args when present.
std::optional<std::string> take_option(std::vector<std::string>& args, const std::string& name) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      if (i + 1 >= args.size()) throw UsageError{name + " needs a value"};
      std::string value = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      return value;
    }
    if (args[i].rfind(name + "=", 0) == 0) {
      std::string value = args[i].substr(name.size() + 1);
      args.erase(args.begin() + static_cast<long>(i));
      return value;
    }
  }
  return std::nullopt;
}

bool take_flag(std::vector<std::string>& args, const std::string& name) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      args.erase(args.begin() + static_cast<long>(i));
      return true;
    }
  }
  return false;
}

void expect_positional(const std::vector<std::string>& args, size_t min, size_t max) {
  for (const auto& a : args) {
    if (a.size() > 1 && a[0] == '-' && a[1] == '-') throw UsageError{"unknown option " + a};
  }
  if (args.size() < min) throw UsageError{"missing arguments"};
  if (args.size() > max) throw UsageError{"too many arguments"};
}

// The value of `option` (its name, for the message) as a positive integer.
int64_t parse_positive(const std::string& option, const std::string& text) {
  try {
    size_t used = 0;
    long long n = std::stoll(text, &used);
    if (used == text.size() && n > 0) return n;
  } catch (...) {
  }
  throw UsageError{option + " expects a positive integer, got \"" + text + "\""};
}

// --wait [--timeout SECONDS] of sync and retry: the seconds to wait, 0 without --wait.
int64_t take_wait(std::vector<std::string>& args) {
  const bool wait = take_flag(args, "--wait");
  const std::optional<std::string> timeout = take_option(args, "--timeout");
  if (timeout && !wait) throw UsageError{"--timeout goes with --wait"};
  if (!wait) return 0;
  return timeout ? parse_positive("--timeout", *timeout) : 600;
}

JsonDocument object_params() {
  JsonDocument params;
  params.SetObject();
  return params;
}

void add_string(JsonDocument& params, const char* name, const std::string& value) {
  auto& alloc = params.GetAllocator();
  params.AddMember(rapidjson::StringRef(name), syncd::json_string(value, alloc), alloc);
}

void add_json_arg(JsonDocument& params, const char* name, const std::string& text) {
  JsonDocument data;
  if (auto error = syncd::parse_json(text, data)) {
    throw UsageError{"the document argument is not valid JSON: " + *error};
  }
  auto& alloc = params.GetAllocator();
  params.AddMember(rapidjson::StringRef(name), JsonValue(data, alloc), alloc);
}

void print_mutation(const JsonValue& result) {
  std::printf("%s/%s queued as mutation %s\n", field(result, "collection").c_str(),
              field(result, "id").c_str(), field(result, "mutation_id").c_str());
}

std::vector<std::vector<std::string>> mutation_rows(const JsonValue& items) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : items.GetArray()) {
    rows.push_back({field(m, "id"), field(m, "state"), field(m, "op"),
                    field(m, "collection") + "/" + field(m, "doc_id"), field(m, "attempts"),
                    field(m, "created_at"), field(m, "last_error")});
  }
  return rows;
}

void print_mutations(const JsonValue& result) {
  const JsonValue& items = result["items"];
  if (items.Empty()) {
    std::printf("(no mutations)\n");
    return;
  }
  std::fputs(syncd::format_table(
                 {"MUTATION", "STATE", "OP", "DOCUMENT", "ATTEMPTS", "CREATED", "LAST ERROR"},
                 mutation_rows(items))
                 .c_str(),
             stdout);
  if (!result["next"].IsNull()) {
    std::printf("(more: --after %s)\n", scalar(result["next"]).c_str());
  }
}

void print_resolutions(const JsonValue& result) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : result["items"].GetArray()) {
    rows.push_back({field(r, "resolved_at"), field(r, "collection") + "/" + field(r, "doc_id"),
                    field(r, "strategy"), field(r, "outcome"), syncd::to_json(r["local"]),
                    syncd::to_json(r["remote"]), syncd::to_json(r["result"])});
  }
  if (rows.empty()) {
    std::printf("(no resolutions)\n");
    return;
  }
  std::fputs(
      syncd::format_table(
          {"RESOLVED", "DOCUMENT", "STRATEGY", "OUTCOME", "LOCAL", "REMOTE", "RESULT"}, rows, 40)
          .c_str(),
      stdout);
}

void print_key_values(const JsonValue& result) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : result.GetObject()) {
    std::string key(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsObject()) {
      for (const auto& inner : m.value.GetObject()) {
        rows.push_back({key + "." + inner.name.GetString(), scalar(inner.value)});
      }
    } else if (m.value.IsArray()) {
      // One row an item ("warnings": each on its own line, none when there are none).
      for (const auto& item : m.value.GetArray()) rows.push_back({key, scalar(item)});
    } else {
      rows.push_back({key, scalar(m.value)});
    }
  }
  std::fputs(syncd::format_table({"KEY", "VALUE"}, rows, 120).c_str(), stdout);
}

// put, patch and delete: COLLECTION ID [JSON] -> the mutation id.
std::function<Request(std::vector<std::string>&)> document_write(const char* method,
                                                                 bool takes_data) {
  return [method, takes_data](std::vector<std::string>& args) {
    const size_t count = takes_data ? 3 : 2;
    expect_positional(args, count, count);
    Request r{method, object_params(), print_mutation};
    add_string(r.params, "collection", args[0]);
    add_string(r.params, "id", args[1]);
    if (takes_data) add_json_arg(r.params, "data", args[2]);
    return r;
  };
}

// A secret for `auth`: the first line of FILE, or of stdin, never an argument (the
// process list shows arguments to every user).
std::string read_secret(const std::optional<std::string>& file) {
  std::string line;
  if (file) {
    std::ifstream in(*file);
    if (!in) throw UsageError{"cannot read " + *file};
    std::getline(in, line);
  } else {
    if (::isatty(STDIN_FILENO)) std::fprintf(stderr, "secret (one line, then Enter): ");
    std::getline(std::cin, line);
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.empty()) throw UsageError{"the secret is empty"};
  return line;
}

Request auth_request(std::vector<std::string>& args) {
  const std::optional<std::string> file = take_option(args, "--file");
  if (args.empty()) throw UsageError{"expected set-token or login"};
  const std::string what = args.front();
  if (what == "set-token") {
    const bool refresh = take_flag(args, "--refresh");
    expect_positional(args, 1, 1);
    Request r{"auth.set_token", object_params(), print_key_values};
    add_string(r.params, "token", read_secret(file));
    if (refresh) add_string(r.params, "kind", "refresh");
    return r;
  }
  if (what == "login") {
    const std::optional<std::string> client_id = take_option(args, "--client-id");
    expect_positional(args, 1, 1);
    Request r{"auth.login", object_params(), print_key_values};
    add_string(r.params, "client_secret", read_secret(file));
    if (client_id) add_string(r.params, "client_id", *client_id);
    return r;
  }
  throw UsageError{"expected set-token or login, got " + what};
}

std::vector<Command> commands() {
  return {
      {"status", "status [--watch]",
       "State and since when, queue by state, oldest pending, last push and pull, next retry, "
       "breaker, auth, last error; colour on a terminal (not with NO_COLOR). --watch redraws "
       "it every second until interrupted.",
       [](std::vector<std::string>& args) {
         const bool watch = take_flag(args, "--watch");
         expect_positional(args, 0, 0);
         Request r{
             "status", JsonDocument(), [](const JsonValue& result) {
               std::fputs(
                   syncd::render_status(result, kClock.now_ms(), syncd::colour_wanted()).c_str(),
                   stdout);
             }};
         r.watch = watch;
         return r;
       }},
      {"get", "get COLLECTION ID",
       "Prints the local view of one document (server state with pending writes applied).",
       [](std::vector<std::string>& args) {
         expect_positional(args, 2, 2);
         Request r{"get", object_params(), [](const JsonValue& result) {
                     std::printf("%s/%s  version %s  %s\n%s\n", field(result, "collection").c_str(),
                                 field(result, "id").c_str(), field(result, "version").c_str(),
                                 result["pending"].IsTrue() ? "pending" : "synced",
                                 syncd::to_pretty_json(result["data"]).c_str());
                   }};
         add_string(r.params, "collection", args[0]);
         add_string(r.params, "id", args[1]);
         return r;
       }},
      {"put", "put COLLECTION ID JSON", "Stores JSON (an object) as the whole document.",
       document_write("put", true)},
      {"patch", "patch COLLECTION ID JSON",
       "Applies JSON as a merge patch (RFC 7386: null removes a field).",
       document_write("patch", true)},
      {"delete", "delete COLLECTION ID", "Deletes a document.", document_write("delete", false)},
      {"list", "list COLLECTION [--prefix P] [--limit N] [--after ID]",
       "Lists documents in id order (default limit 100).",
       [](std::vector<std::string>& args) {
         auto prefix = take_option(args, "--prefix");
         auto limit = take_option(args, "--limit");
         auto after = take_option(args, "--after");
         expect_positional(args, 1, 1);
         Request r{"list", object_params(), [](const JsonValue& result) {
                     std::vector<std::vector<std::string>> rows;
                     for (const auto& d : result["items"].GetArray()) {
                       rows.push_back({field(d, "id"), field(d, "version"),
                                       d["pending"].IsTrue() ? "pending" : "synced",
                                       syncd::to_json(d["data"])});
                     }
                     if (rows.empty()) {
                       std::printf("(no documents)\n");
                     } else {
                       std::fputs(
                           syncd::format_table({"ID", "VERSION", "STATE", "DATA"}, rows).c_str(),
                           stdout);
                     }
                     if (!result["next"].IsNull()) {
                       std::printf("(more: --after %s)\n", scalar(result["next"]).c_str());
                     }
                   }};
         add_string(r.params, "collection", args[0]);
         if (prefix) add_string(r.params, "prefix", *prefix);
         if (after) add_string(r.params, "after", *after);
         if (limit)
           r.params.AddMember("limit", parse_positive("--limit", *limit), r.params.GetAllocator());
         return r;
       }},
      {"watch", "watch [COLLECTION]",
       "Prints every change (local and remote) as it happens, until interrupted.",
       [](std::vector<std::string>& args) {
         expect_positional(args, 0, 1);
         Request r{"subscribe", object_params(), nullptr};
         if (!args.empty()) add_string(r.params, "collection", args[0]);
         return r;
       }},
      {"queue", "queue [--failed | --state STATE] [--limit N] [--after SEQ]",
       "Lists queued mutations in queue order (default: every state).",
       [](std::vector<std::string>& args) {
         bool failed = take_flag(args, "--failed");
         auto state = take_option(args, "--state");
         auto limit = take_option(args, "--limit");
         auto after = take_option(args, "--after");
         expect_positional(args, 0, 0);
         Request r{"queue.list", object_params(), print_mutations};
         if (failed && state) throw UsageError{"--failed and --state exclude each other"};
         if (failed) add_string(r.params, "state", "failed");
         if (state) add_string(r.params, "state", *state);
         if (limit)
           r.params.AddMember("limit", parse_positive("--limit", *limit), r.params.GetAllocator());
         if (after)
           r.params.AddMember("after", parse_positive("--after", *after), r.params.GetAllocator());
         return r;
       }},
      {"retry", "retry MUTATION_ID | --all [--wait [--timeout SECONDS]]",
       "Moves a failed (dead-lettered) mutation, or all of them, back to pending; --wait "
       "then shows the queue draining until it is empty (at most --timeout, default 600 s).",
       [](std::vector<std::string>& args) {
         const int64_t wait = take_wait(args);
         bool all = take_flag(args, "--all");
         expect_positional(args, all ? 0 : 1, all ? 0 : 1);
         Request r{"queue.retry", object_params(), [](const JsonValue& result) {
                     std::printf("%s mutation(s) back to pending\n",
                                 field(result, "retried").c_str());
                   }};
         if (all) {
           r.params.AddMember("all", true, r.params.GetAllocator());
         } else {
           add_string(r.params, "id", args[0]);
         }
         r.wait_drain_s = wait;
         return r;
       }},
      {"conflicts", "conflicts [--all]",
       "Lists mutations waiting for a manual resolution; --all lists every resolution made.",
       [](std::vector<std::string>& args) {
         bool all = take_flag(args, "--all");
         expect_positional(args, 0, 0);
         Request r{"conflicts.list", object_params(), print_mutations};
         if (all) {
           r.params.AddMember("all", true, r.params.GetAllocator());
           r.print_human = print_resolutions;
         }
         return r;
       }},
      {"resolve", "resolve MUTATION_ID --take local|remote|JSON",
       "Resolves a conflict with the local side, the remote side, or the given document.",
       [](std::vector<std::string>& args) {
         auto take = take_option(args, "--take");
         expect_positional(args, 1, 1);
         if (!take) throw UsageError{"--take local|remote|JSON is required"};
         Request r{"conflicts.resolve", object_params(), print_key_values};
         add_string(r.params, "id", args[0]);
         if (*take == "local" || *take == "remote") {
           add_string(r.params, "take", *take);
         } else {
           add_json_arg(r.params, "take", *take);
         }
         return r;
       }},
      {"sync", "sync [--wait [--timeout SECONDS]]",
       "Replays the queue and pulls remote changes now; --wait then shows the queue "
       "draining (a bar on a terminal) until it is empty, at most --timeout (default 600 s).",
       [](std::vector<std::string>& args) {
         const int64_t wait = take_wait(args);
         expect_positional(args, 0, 0);
         Request r{"sync.now", JsonDocument(), print_key_values};
         r.wait_drain_s = wait;
         if (wait) r.print_human = [](const JsonValue&) {};
         return r;
       }},
      {"doctor", "doctor [--timeout SECONDS]",
       "Checks the setup and says what to do about each problem: the socket, the config "
       "file, the state directory's modes and free space, the remote, TLS, the clock against "
       "the remote's, a stuck queue. It has syncd try the remote now and waits for that "
       "attempt, at most --timeout (default 10 s). Exit 0 only when nothing failed.",
       [](std::vector<std::string>& args) {
         const std::optional<std::string> timeout = take_option(args, "--timeout");
         expect_positional(args, 0, 0);
         Request r{"doctor", JsonDocument(), print_key_values};
         r.doctor_timeout_s = timeout ? parse_positive("--timeout", *timeout) : 10;
         return r;
       }},
      {"auth", "auth set-token [--refresh] [--file F] | auth login [--client-id ID] [--file F]",
       "Installs a new access (or refresh) token, or client credentials for the token "
       "endpoint, read from F or stdin; syncd resumes sending without a restart.",
       auth_request},
      {"metrics", "metrics [--prometheus]",
       "Prints the daemon's counters; --prometheus: them and the status, in Prometheus's "
       "text format.",
       [](std::vector<std::string>& args) {
         const bool prometheus = take_flag(args, "--prometheus");
         expect_positional(args, 0, 0);
         if (!prometheus) return Request{"metrics", JsonDocument(), print_key_values};
         Request r{"metrics", object_params(), [](const JsonValue& result) {
                     std::fputs(field(result, "text").c_str(), stdout);
                   }};
         add_string(r.params, "format", "prometheus");
         return r;
       }},
  };
}

void print_general_help(const std::vector<Command>& all) {
  std::fputs(kGeneralHelp, stdout);
  for (const auto& c : all) std::printf("  %-55s %s\n", c.synopsis, c.help);
  std::fputs(kExitCodes, stdout);
}

volatile std::sig_atomic_t g_interrupted = 0;

int watch(syncd::RpcClient& client, bool json) {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_interrupted = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  while (!g_interrupted) {
    std::string error;
    std::optional<std::string> line = client.read_line(error, true);
    if (!line) {
      if (g_interrupted) break;
      std::fprintf(stderr, "syncctl: %s\n", error.c_str());
      return kUnreachable;
    }
    JsonDocument note;
    if (syncd::parse_json(*line, note) || !note.IsObject() || !note.HasMember("params")) continue;
    const JsonValue& p = note["params"];
    if (json) {
      std::printf("%s\n", syncd::to_json(p).c_str());
    } else if (field(note, "method") == "gap") {
      std::printf("gap    %s changes not shown (%s): re-read what matters with get or list\n",
                  field(p, "missed").c_str(), field(p, "reason").c_str());
    } else {
      std::printf("%-6s %s/%s %s\n", field(p, "origin").c_str(), field(p, "collection").c_str(),
                  field(p, "id").c_str(),
                  p.HasMember("data") ? syncd::to_json(p["data"]).c_str() : "null");
    }
    std::fflush(stdout);
  }
  return kOk;
}

// Pending plus inflight, from `status`; -1 when syncd did not answer.
int64_t queued(syncd::RpcClient& client) {
  JsonDocument status;
  if (client.call("status", JsonDocument(), status) || !status.HasMember("result")) return -1;
  const JsonValue& result = status["result"];
  auto queue = result.IsObject() ? result.FindMember("queue") : result.MemberEnd();
  if (!result.IsObject() || queue == result.MemberEnd() || !queue->value.IsObject()) return -1;
  int64_t n = 0;
  for (const char* state : {"pending", "inflight"}) {
    auto it = queue->value.FindMember(state);
    if (it == queue->value.MemberEnd() || !it->value.IsInt64()) return -1;
    n += it->value.GetInt64();
  }
  return n;
}

int wait_for_drain(syncd::RpcClient& client, int64_t timeout_s) {
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  const int64_t start = kClock.monotonic_ms();
  int64_t remaining = queued(client);
  if (remaining < 0) {
    std::fprintf(stderr, "syncctl: syncd stopped answering\n");
    return kUnreachable;
  }
  syncd::DrainProgress progress(remaining, start);
  int64_t last_line_ms = 0;
  for (;;) {
    const int64_t now = kClock.monotonic_ms();
    progress.update(remaining, now);
    if (terminal) {
      std::printf("\r%s\x1b[K", progress.bar(30).c_str());
    } else if (progress.drained() || now - last_line_ms >= 1000) {
      std::printf("%s\n", progress.line().c_str());
      last_line_ms = now;
    }
    std::fflush(stdout);
    if (progress.drained()) {
      if (terminal) std::printf("\n");
      return kOk;
    }
    if ((now - start) / 1000 >= timeout_s) {
      if (terminal) std::printf("\n");
      std::fprintf(stderr, "syncctl: %lld still queued after %lld s (syncctl status says why)\n",
                   static_cast<long long>(remaining), static_cast<long long>(timeout_s));
      return kDaemonError;
    }
    ::usleep(200 * 1000);  // the polling period, not a wait for something
    remaining = queued(client);
    if (remaining < 0) {
      std::fprintf(stderr, "\nsyncctl: syncd stopped answering\n");
      return kUnreachable;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::optional<std::string> socket_flag;
  bool json = false;
  const std::vector<Command> all = commands();
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--socket") {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "syncctl: --socket needs a value\n");
        return kUsage;
      }
      socket_flag = args[++i];
    } else if (a.rfind("--socket=", 0) == 0) {
      socket_flag = a.substr(9);
    } else if (a == "--help" || a == "-h" || a == "help") {
      print_general_help(all);
      return kOk;
    } else if (a == "--version") {
      std::printf("syncctl %s\n", SYNCD_VERSION);
      return kOk;
    } else if (a.rfind("-", 0) == 0) {
      std::fprintf(stderr, "syncctl: unknown option %s (see syncctl --help)\n", a.c_str());
      return kUsage;
    } else {
      break;
    }
  }
  if (i >= args.size()) {
    std::fprintf(stderr, "syncctl: no command given (see syncctl --help)\n");
    return kUsage;
  }
  const std::string name = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
  const Command* command = nullptr;
  for (const auto& c : all) {
    if (name == c.name) command = &c;
  }
  if (command == nullptr) {
    std::fprintf(stderr, "syncctl: unknown command %s (see syncctl --help)\n", name.c_str());
    return kUsage;
  }
  if (take_flag(rest, "--help") || take_flag(rest, "-h")) {
    std::printf("usage: syncctl [--socket PATH] [--json] %s\n\n%s\n%s", command->synopsis,
                command->help, kExitCodes);
    return kOk;
  }
  Request request;
  try {
    // Global flags may also come after the command.
    if (take_flag(rest, "--json")) json = true;
    if (auto s = take_option(rest, "--socket")) socket_flag = s;
    request = command->build(rest);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "syncctl %s: %s\nusage: syncctl %s\n", name.c_str(), e.message.c_str(),
                 command->synopsis);
    return kUsage;
  }

  const std::string socket = syncd::find_socket(socket_flag);
  if (request.doctor_timeout_s > 0) {
    return syncd::run_doctor(socket, json, request.doctor_timeout_s, kClock);
  }
  syncd::RpcClient client;
  if (auto error = client.connect(socket, 30)) {
    std::fprintf(stderr, "syncctl: %s\n", error->c_str());
    return kUnreachable;
  }
  JsonDocument response;
  if (auto error = client.call(request.method, request.params, response)) {
    std::fprintf(stderr, "syncctl: %s\n", error->c_str());
    return kUnreachable;
  }
  if (response.HasMember("error")) {
    const JsonValue& error = response["error"];
    if (json) std::printf("%s\n", syncd::to_json(error).c_str());
    std::string reason = error.HasMember("data") ? field(error["data"], "reason") : "-";
    std::fprintf(stderr, "syncctl: %s (%s)\n", field(error, "message").c_str(), reason.c_str());
    return kDaemonError;
  }
  const JsonValue& result = response["result"];
  if (name == "watch") return watch(client, json);
  if (json) {
    std::printf("%s\n", syncd::to_json(result).c_str());
  } else {
    if (request.watch && ::isatty(STDOUT_FILENO)) std::fputs("\x1b[H\x1b[2J", stdout);
    request.print_human(result);
  }
  if (request.wait_drain_s > 0) return wait_for_drain(client, request.wait_drain_s);
  while (request.watch) {
    std::fflush(stdout);
    ::sleep(1);  // the redraw period, not a wait for something
    JsonDocument again;
    if (auto error = client.call(request.method, request.params, again)) {
      std::fprintf(stderr, "syncctl: %s\n", error->c_str());
      return kUnreachable;
    }
    if (!again.HasMember("result")) return kDaemonError;
    if (json) {
      std::printf("%s\n", syncd::to_json(again["result"]).c_str());
      continue;
    }
    // On a terminal the screen is redrawn in place; elsewhere each status follows the last.
    std::fputs(::isatty(STDOUT_FILENO) ? "\x1b[H\x1b[2J" : "\n", stdout);
    request.print_human(again["result"]);
  }
  return kOk;
}
