// The chaos suite: syncd, the reference server and the fault proxy as processes; writers
// on shared documents; in every round syncd is killed with SIGKILL at a random instant
// (a tenth of the time while it starts up) and restarted, while the network flaps and
// the server fails (refused and blackholed connections, resets mid-body, latency, 500 /
// 503 / 429, acknowledgements lost after the server committed). Until the store has grown
// to --min-store-mb, half the rounds keep the remote unreachable, so that the queue grows
// and the kills hit a large store; rounds go on past --rounds until it has.
// After every kill the files as the kill left them must pass PRAGMA integrity_check; at
// the end, after a full sync: every acknowledged mutation applied exactly once, each
// document's mutations applied in the order they were made, the local view equal to the
// server's state, no dead letter or conflict, the database intact.
//
// usage: chaos [--seed N] [--rounds N] [--min-store-mb N] [--writers N] [--documents N]
//              [--check-every N] [--drain-timeout-s N] [--keep]
// Exit 0 when every check held; otherwise 1, after naming each failure and the command
// that reruns the seed (the schedule of faults, kills and requests comes from it; the
// interleaving of threads does not). --keep leaves the temp dir (syncd.log, state).
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite.h"
#include "tests/chaos/workload.h"
#include "tests/integration/harness.h"
#include "util/random.h"

namespace syncd::chaos {
namespace {

using testing::Millis;

struct Options {
  uint64_t seed = 1;
  int rounds = 12;
  int64_t min_store_mb = 100;
  int check_every = 1;
  int drain_timeout_s = 300;
  bool keep = false;
  WorkloadShape shape;
};

class Failures {
 public:
  void add(const std::string& what) {
    if (list_.size() < 50) list_.push_back(what);
    ++count_;
  }
  bool any() const { return count_ > 0; }
  void print() const {
    for (const auto& f : list_) std::fprintf(stderr, "FAIL: %s\n", f.c_str());
    if (count_ > list_.size()) std::fprintf(stderr, "... and %zu more\n", count_ - list_.size());
  }

 private:
  std::vector<std::string> list_;
  size_t count_ = 0;
};

int64_t file_bytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

std::string integrity_check(const std::string& db_path) {
  Database db(db_path);
  Statement check(db, "PRAGMA integrity_check");
  std::string result;
  while (check.step()) {
    if (!result.empty()) result += "; ";
    if (result.size() < 2000) result += check.column_text(0);
  }
  return result;
}

// The database as a kill left it (the files the kernel holds, no -shm), checked on a copy
// so that the restart recovers the very same files.
std::string check_kill_image(const std::string& state_dir, const std::string& scratch) {
  std::filesystem::remove_all(scratch);
  std::filesystem::create_directories(scratch);
  for (const char* name : {"syncd.db", "syncd.db-wal"}) {
    if (std::filesystem::exists(state_dir + "/" + name)) {
      std::filesystem::copy_file(state_dir + "/" + name, scratch + "/" + name);
    }
  }
  std::string result = integrity_check(scratch + "/syncd.db");
  std::filesystem::remove_all(scratch);
  return result;
}

std::string tail(const std::string& text, size_t lines) {
  size_t at = text.size();
  for (size_t n = 0; n <= lines && at > 0; ++n) at = text.rfind('\n', at - 1);
  return at == std::string::npos ? text : text.substr(at + 1);
}

// One round's trouble, chosen by the seed.
struct Fault {
  std::string name;
  std::string proxy = "pass";  // a fault proxy command
  std::string server;          // a refserver /admin/faults body, or empty
};

Fault pick_fault(Random& random) {
  const auto n = [&](uint64_t lo, uint64_t hi) {
    return std::to_string(lo + random.next_u64() % (hi - lo + 1));
  };
  switch (random.next_u64() % 10) {
    case 0:
      return {"pass", "pass", ""};
    case 1:
      return {"refuse", "refuse", ""};
    case 2:
      return {"blackhole", "blackhole", ""};
    case 3: {
      std::string bytes = n(200, 20000);
      return {"reset after " + bytes + " bytes", "reset_after " + bytes, ""};
    }
    case 4: {
      std::string ms = n(5, 100);
      return {"latency " + ms + " ms", "latency " + ms, ""};
    }
    case 5: {
      std::string count = n(1, 5);
      return {"503 x" + count, "pass",
              R"({"status": 503, "count": )" + count + R"(, "retry_after": "1"})"};
    }
    case 6: {
      std::string count = n(1, 5);
      return {"500 x" + count, "pass", R"({"status": 500, "count": )" + count + "}"};
    }
    case 7:
      return {"429", "pass", R"({"status": 429, "count": 2, "retry_after": "1"})"};
    case 8:
      return {"lost acknowledgement (reset mid-answer)", "pass", R"({"drop_mid_body": 1})"};
    default:
      return {"lost acknowledgement (HTML answer)", "pass", R"({"garbage": 1})"};
  }
}

class Chaos {
 public:
  explicit Chaos(Options options)
      : o_(std::move(options)), ref_(dir_), workload_(o_.shape, o_.seed), schedule_(o_.seed) {}

  int run() {
    if (o_.keep) dir_.keep();
    std::printf("chaos: seed %llu, %d rounds, store >= %lld MB, %d writers, %d documents, in %s\n",
                static_cast<unsigned long long>(o_.seed), o_.rounds,
                static_cast<long long>(o_.min_store_mb), o_.shape.writers, o_.shape.documents,
                dir_.path().c_str());
    std::fflush(stdout);
    const auto started = std::chrono::steady_clock::now();
    if (!ref_.start()) return fatal("the reference server did not start: " + ref_.log());
    proxy_ = std::make_unique<testing::FaultProxy>(dir_, ref_.port());
    if (!proxy_->start()) return fatal("the fault proxy did not start");
    syncd_ =
        std::make_unique<testing::Syncd>(dir_, config(), std::vector<std::string>{}, proxy_->url());
    for (int round = 0; !failures_.any(); ++round) {
      const bool grown = store_bytes() >= o_.min_store_mb * 1000000;
      if (round >= o_.rounds && (grown || round >= 10 * o_.rounds)) break;
      run_round(round);
    }
    if (!failures_.any()) final_checks();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf(
        "chaos: %zu acknowledged mutations, %lld unanswered at a kill, peak store %.1f MB, "
        "%.0f s\n",
        workload_.acked_count(), static_cast<long long>(workload_.unanswered()),
        static_cast<double>(peak_store_bytes_) / 1e6, seconds);
    if (!failures_.any()) {
      std::printf("chaos: ok\n");
      return 0;
    }
    failures_.print();
    std::fprintf(stderr, "syncd log, last lines:\n%s\n", tail(syncd_->log(), 40).c_str());
    std::fprintf(stderr, "rerun: chaos --seed %llu --rounds %d --min-store-mb %lld --keep\n",
                 static_cast<unsigned long long>(o_.seed), o_.rounds,
                 static_cast<long long>(o_.min_store_mb));
    return 1;
  }

 private:
  std::string config() const {
    // Short backoff and timeouts: many recoveries fit in a round.
    return R"({"backoff": {"initial_ms": 20, "max_ms": 500},
               "breaker": {"failure_threshold": 5, "cooldown_ms": 300},
               "sync": {"pull_interval_s": 1},
               "http": {"connect_timeout_ms": 1000, "timeout_ms": 3000, "low_speed_time_s": 2}})";
  }

  int fatal(const std::string& what) {
    std::fprintf(stderr, "chaos: %s\n", what.c_str());
    return 1;
  }

  void set_fault(const Fault& fault) {
    proxy_->command("latency 0");
    proxy_->command(fault.proxy);
    testing::http_post(ref_.url() + "/admin/faults", R"({"reset": true})");
    if (!fault.server.empty()) testing::http_post(ref_.url() + "/admin/faults", fault.server);
  }

  void run_round(int round) {
    const bool growing = store_bytes() < o_.min_store_mb * 1000000;
    const bool offline = growing && schedule_.next_u64() % 2 == 0;
    const Fault fault =
        offline ? Fault{"offline (growing the store)", "refuse", ""} : pick_fault(schedule_);
    set_fault(fault);
    const bool kill_in_startup = !offline && schedule_.next_u64() % 10 == 0;
    const auto kill_after = Millis(200 + static_cast<int64_t>(schedule_.next_u64() % 1300));
    if (kill_in_startup) {
      syncd_->launch();
      std::this_thread::sleep_for(Millis(static_cast<int64_t>(schedule_.next_u64() % 300)));
    } else {
      if (!syncd_->start(Millis(120000))) {
        failures_.add("round " + std::to_string(round) + ": syncd did not start after a kill (" +
                      why_not_started() + ")");
        return;
      }
      workload_.start(syncd_->socket(), round);
      std::this_thread::sleep_for(kill_after);  // the kill's instant, not a synchronisation
    }
    syncd_->kill9();
    workload_.stop();
    peak_store_bytes_ = std::max(peak_store_bytes_, store_bytes());
    std::string check = "not checked";
    if (round % o_.check_every == 0) {
      check = check_kill_image(syncd_->state_dir(), dir_.file("image"));
      if (check != "ok") {
        failures_.add("round " + std::to_string(round) +
                      ": after the kill, integrity_check: " + check);
      }
    }
    std::printf("round %3d: %-40s kill %s, %7zu acknowledged, store %6.1f MB, integrity %s\n",
                round, fault.name.c_str(),
                kill_in_startup ? "during start-up"
                                : ("after " + std::to_string(kill_after.count()) + " ms").c_str(),
                workload_.acked_count(), static_cast<double>(store_bytes()) / 1e6, check.c_str());
    std::fflush(stdout);
  }

  // Whether the process that did not start is gone, and how, or still there.
  std::string why_not_started() {
    testing::Process* p = syncd_->process();
    if (!p) return "no process";
    if (p->running()) return "running, but status gave no answer within 120 s";
    std::optional<int> status = p->wait_exit(Millis(0));
    if (!status) return "gone, status unknown";
    if (WIFSIGNALED(*status)) return "killed by signal " + std::to_string(WTERMSIG(*status));
    return "exited with status " + std::to_string(WEXITSTATUS(*status));
  }

  int64_t store_bytes() const {
    const std::string db = syncd_->state_dir() + "/syncd.db";
    return file_bytes(db) + file_bytes(db + "-wal");
  }

  JsonDocument status(testing::Client& client) {
    JsonDocument answer = client.call("status");
    JsonDocument result;
    if (answer.IsObject() && answer.HasMember("result"))
      result.CopyFrom(answer["result"], result.GetAllocator());
    return result;
  }

  // Starts syncd on a good network and waits until the queue is empty and a pull has
  // run after that.
  bool drain(testing::Client& client) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(o_.drain_timeout_s);
    auto last_report = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      JsonDocument s = status(client);
      if (!s.IsObject()) {
        failures_.add("drain: status did not answer");
        return false;
      }
      const auto& q = s["queue"];
      const int64_t waiting = q["pending"].GetInt64() + q["inflight"].GetInt64();
      if (q["failed"].GetInt64() > 0 || q["conflict"].GetInt64() > 0) {
        failures_.add("drain: " + std::to_string(q["failed"].GetInt64()) + " dead letters and " +
                      std::to_string(q["conflict"].GetInt64()) +
                      " conflicts in the queue; last_error: " + to_json(s["last_error"]));
        return false;
      }
      if (waiting == 0) return true;
      if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(10)) {
        std::printf("drain: %lld waiting\n", static_cast<long long>(waiting));
        std::fflush(stdout);
        last_report = std::chrono::steady_clock::now();
      }
      std::this_thread::sleep_for(Millis(100));  // polling a condition with a deadline
    }
    failures_.add("drain: the queue did not empty within " + std::to_string(o_.drain_timeout_s) +
                  " s");
    return false;
  }

  void final_checks() {
    set_fault(Fault{"pass", "pass", ""});
    if (!syncd_->start(Millis(120000))) {
      failures_.add("final start: syncd did not start");
      return;
    }
    testing::Client client(syncd_->socket());
    if (!drain(client)) return;
    // One more pull after the queue emptied, so the local view has every server version.
    const std::string pulled_before = to_json(status(client)["last_pull"]);
    client.call("sync.now");
    testing::wait_until([&] { return to_json(status(client)["last_pull"]) != pulled_before; },
                        Millis(30000));
    check_exactly_once_and_order();
    check_views(client);
    for (const auto& [reason, count] : workload_.errors()) {
      if (reason != "not_found") {
        failures_.add("writers got " + std::to_string(count) + " errors with reason " + reason);
      }
    }
    if (peak_store_bytes_ < o_.min_store_mb * 1000000) {
      failures_.add("the store reached only " + std::to_string(peak_store_bytes_ / 1000000) +
                    " MB; the run was to test a store of " + std::to_string(o_.min_store_mb) +
                    " MB");
    }
    if (workload_.acked_count() == 0) failures_.add("no write was acknowledged");
    auto stopped = syncd_->stop();
    if (!stopped || *stopped != 0) failures_.add("syncd did not stop cleanly on SIGTERM");
    std::string check = integrity_check(syncd_->state_dir() + "/syncd.db");
    if (check != "ok") failures_.add("at the end, integrity_check: " + check);
  }

  void check_exactly_once_and_order() {
    testing::HttpResult applied = testing::http_get(ref_.url() + "/admin/applied");
    JsonDocument log;
    if (applied.status != 200 || parse_json(applied.body, log) || !log.HasMember("applied")) {
      failures_.add("the reference server's applied log did not load");
      return;
    }
    std::map<std::string, int> times;
    std::map<std::string, std::string> last_of_document;
    for (const auto& a : log["applied"].GetArray()) {
      const std::string id = a["id"].GetString();
      const std::string doc = a["doc_id"].GetString();
      if (++times[id] == 2) failures_.add("mutation " + id + " (" + doc + ") applied twice");
      std::string& last = last_of_document[doc];
      if (!last.empty() && id < last) {
        failures_.add(doc + ": mutation " + id + " applied after " + last + ", made before it");
      }
      last = std::max(last, id);
    }
    for (const AckedMutation& m : workload_.acked()) {
      if (times.count(m.mutation_id) == 0) {
        failures_.add("acknowledged mutation " + m.mutation_id + " of " + m.doc_id +
                      " never reached the server");
      }
    }
  }

  void check_views(testing::Client& client) {
    struct ServerDoc {
      std::string version;
      std::string data;  // JSON text, empty when deleted
    };
    std::map<std::string, ServerDoc> server;
    std::string cursor = "0";
    for (int page = 0; page < 10000; ++page) {
      testing::HttpResult r =
          testing::http_get(ref_.url() + "/v1/pull?cursor=" + cursor + "&limit=500");
      JsonDocument doc;
      if (r.status != 200 || parse_json(r.body, doc)) {
        failures_.add("pulling the server's state for the comparison failed");
        return;
      }
      for (const auto& c : doc["changes"].GetArray()) {
        server[c["doc_id"].GetString()] =
            ServerDoc{c["version"].GetString(), c["deleted"].GetBool() ? "" : to_json(c["data"])};
      }
      cursor = doc["cursor"].GetString();
      if (!doc["has_more"].GetBool()) break;
    }
    for (int i = 0; i < workload_.documents(); ++i) {
      const std::string id = workload_.doc_id(i);
      JsonDocument got = client.call("get", std::string(R"({"collection":")") +
                                                Workload::kCollection + R"(","id":")" + id + "\"}");
      auto it = server.find(id);
      const bool on_server = it != server.end() && !it->second.data.empty();
      const bool local = got.IsObject() && got.HasMember("result");
      if (on_server != local) {
        failures_.add(id + ": " +
                      (local ? "in the local view, absent or deleted on the server"
                             : "on the server, absent from the local view"));
        continue;
      }
      if (!local) continue;
      JsonDocument server_data;
      parse_json(it->second.data, server_data);
      if (!(got["result"]["data"] == server_data)) {
        failures_.add(id + ": the local view differs from the server: " +
                      to_json(got["result"]["data"]).substr(0, 120) + " against " +
                      it->second.data.substr(0, 120));
      }
      const JsonValue& version = got["result"]["version"];
      if (!version.IsString() || it->second.version != version.GetString()) {
        failures_.add(id + ": local version " + to_json(version) + ", server version " +
                      it->second.version);
      }
    }
  }

  Options o_;
  testing::TempDir dir_;
  testing::RefServer ref_;
  std::unique_ptr<testing::FaultProxy> proxy_;
  std::unique_ptr<testing::Syncd> syncd_;
  Workload workload_;
  Xoshiro256 schedule_;
  Failures failures_;
  int64_t peak_store_bytes_ = 0;
};

}  // namespace
}  // namespace syncd::chaos

int main(int argc, char** argv) {
  syncd::chaos::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seed") {
      o.seed = std::stoull(next());
    } else if (a == "--rounds") {
      o.rounds = std::stoi(next());
    } else if (a == "--min-store-mb") {
      o.min_store_mb = std::stoll(next());
    } else if (a == "--writers") {
      o.shape.writers = std::stoi(next());
    } else if (a == "--documents") {
      o.shape.documents = std::stoi(next());
    } else if (a == "--check-every") {
      o.check_every = std::max(1, std::stoi(next()));
    } else if (a == "--drain-timeout-s") {
      o.drain_timeout_s = std::stoi(next());
    } else if (a == "--keep") {
      o.keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: chaos [--seed N] [--rounds N] [--min-store-mb N] [--writers N] "
                   "[--documents N] [--check-every N] [--drain-timeout-s N] [--keep]\n");
      return 2;
    }
  }
  return syncd::chaos::Chaos(o).run();
}
