// bench/hostile_clients: a probe client's put+get latency and syncd's memory while
// hostile and many clients use the socket, during a replay to the reference server.
//
// 1. syncd queues `--queued` puts while the reference server's port is closed; then the
//    server starts and syncd replays the queue (and keeps pushing what the writers add).
// 2. "before": `--writers` clients put ~1 KiB documents over a fixed set of ids (a busy
//    collection, `--write-rate` puts/s in all) and the probe does put+get, for
//    `--warmup` seconds.
// 3. "abuse": `--connections` more connections for `--seconds`: `--subscribers` subscribe
//    to every collection and never read, `--half-frames` send half a frame and stall,
//    `--droppers` threads send batches of `--batch` puts and disconnect before reading
//    the whole answer, the rest connect and stay idle. syncd's RSS is sampled every 50 ms.
// 4. "after": the abusers close their connections; once syncd shows them gone, the
//    writers and the probe run `--warmup` seconds more.
// Prints the probe's p50/p99 per phase, syncd's RSS before, at peak and after, and the
// metrics counters.
//
// usage: hostile_clients [--connections 1000] [--subscribers 100] [--half-frames 100]
//                        [--droppers 2] [--batch 2000] [--writers 4] [--write-rate 2000]
//                        [--queued 20000]
//                        [--warmup 3] [--seconds 10] [--no-replay] [--syncd-config JSON]
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"
#include "util/json.h"

namespace {

using namespace syncd::testing;
using syncd::JsonDocument;
using Clock = std::chrono::steady_clock;

struct Options {
  int connections = 1000;
  int subscribers = 100;
  int half_frames = 100;
  int droppers = 2;
  int batch = 2000;
  int writers = 4;
  double write_rate = 2000;  // puts/s of all writers together (0: as fast as they can)
  long queued = 20000;
  double warmup_s = 3;
  double abuse_s = 10;
  std::string syncd_config = R"({"backoff": {"initial_ms": 50, "max_ms": 200}})";
  bool replay = true;  // false: the reference server never starts (syncd stays offline)
};

std::string put_frame(const std::string& collection, const std::string& id, long n,
                      const std::string& pad, long rpc_id) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(rpc_id) +
         R"(,"method":"put","params":{"collection":")" + collection + R"(","id":")" + id +
         R"(","data":{"n":)" + std::to_string(n) + R"(,"pad":")" + pad + "\"}}}";
}

double mib(long kib) { return static_cast<double>(kib) / 1024; }

// Sequential put+get of the probe's own document; one latency per pair.
class Probe {
 public:
  explicit Probe(const std::string& socket) : client_(socket) {}
  bool connected() const { return client_.connected(); }
  void once(long i) {
    auto t0 = Clock::now();
    JsonDocument put = client_.call(
        "put", R"({"collection":"probe","id":"p","data":{"n":)" + std::to_string(i) + "}}");
    JsonDocument get = client_.call("get", R"({"collection":"probe","id":"p"})");
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    bool ok = put.IsObject() && put.HasMember("result") && get.IsObject() &&
              get.HasMember("result") && get["result"]["data"]["n"].GetInt64() == i;
    std::lock_guard lock(mutex_);
    if (ok) {
      latencies_.push_back(ms);
    } else {
      ++errors_;
    }
  }
  // The latencies since the last call, sorted, and the errors.
  std::pair<std::vector<double>, long> take() {
    std::lock_guard lock(mutex_);
    std::vector<double> out;
    out.swap(latencies_);
    long errors = errors_;
    errors_ = 0;
    std::sort(out.begin(), out.end());
    return {out, errors};
  }

 private:
  Client client_;
  std::mutex mutex_;
  std::vector<double> latencies_;
  long errors_ = 0;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(static_cast<double>(sorted.size()) * p));
  return sorted[i];
}

void raise_nofile(int needed) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < static_cast<rlim_t>(needed)) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, static_cast<rlim_t>(needed));
    setrlimit(RLIMIT_NOFILE, &lim);  // syncd inherits it
  }
}

int run(const Options& o) {
  raise_nofile(o.connections + 256);
  TempDir dir;
  RefServer server(dir);
  const int port = free_port();
  server.set_port(port);
  Syncd syncd(dir, o.syncd_config, {}, "http://127.0.0.1:" + std::to_string(port));
  if (!syncd.start()) {
    std::fprintf(stderr, "syncd did not start:\n%s\n", syncd.log().c_str());
    return 1;
  }
  const pid_t pid = syncd.process()->pid();
  const long rss_start = rss_kib(pid);
  {
    Client loader(syncd.socket());
    const std::string pad(200, 'q');
    for (long i = 0; i < o.queued;) {
      std::string frames;
      long n = std::min<long>(500, o.queued - i);
      for (long k = 0; k < n; ++k) {
        frames += put_frame("queued", "q" + std::to_string(i + k), i + k, pad, i + k) + "\n";
      }
      loader.send_raw(frames);
      for (long k = 0; k < n; ++k) loader.read_line(Millis(60000));
      i += n;
    }
  }
  if (o.replay && !server.start()) {
    std::fprintf(stderr, "refserver did not start:\n%s\n", server.log().c_str());
    return 1;
  }

  std::atomic<bool> stop_all{false};
  std::atomic<long> writer_errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < o.writers; ++w) {
    threads.emplace_back([&, w] {
      Client c(syncd.socket());
      const std::string pad(1000, static_cast<char>('a' + w));
      const auto start = Clock::now();
      const double per_writer = o.write_rate / o.writers;
      for (long i = 0; !stop_all; ++i) {
        if (per_writer > 0) {  // paced: the writers model a busy app, not a flood
          std::this_thread::sleep_until(start + std::chrono::duration<double>(i / per_writer));
        }
        std::string id = "w" + std::to_string(w) + "-" + std::to_string(i % 250);
        if (!c.send_raw(put_frame("busy", id, i, pad, i) + "\n") || !c.read_line(Millis(30000))) {
          ++writer_errors;
          return;
        }
      }
    });
  }
  Probe probe(syncd.socket());
  if (!probe.connected()) return 1;
  threads.emplace_back([&] {
    for (long i = 0; !stop_all; ++i) probe.once(i);
  });
  std::atomic<long> peak_kib{0};
  std::atomic<bool> sampling{false};
  std::thread sampler([&] {
    while (!stop_all) {
      if (sampling) {
        long now = rss_kib(pid);
        long seen = peak_kib.load();
        while (now > seen && !peak_kib.compare_exchange_weak(seen, now)) {
        }
      }
      std::this_thread::sleep_for(Millis(50));  // a sampling period, not a synchronisation
    }
  });
  auto run_for = [](double seconds) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the phase's length
  };

  run_for(o.warmup_s);
  auto before = probe.take();
  const long rss_before = rss_kib(pid);

  // The abusers.
  sampling = true;
  std::vector<std::unique_ptr<Client>> abusers;
  int subscribed = 0, stalled = 0, idle = 0;
  for (int i = 0; i < o.connections; ++i) {
    auto c = std::make_unique<Client>(syncd.socket());
    if (!c->connected()) continue;
    if (i < o.subscribers) {
      c->send_raw(R"({"jsonrpc":"2.0","id":1,"method":"subscribe","params":{}})"
                  "\n");
      ++subscribed;
    } else if (i < o.subscribers + o.half_frames) {
      c->send_raw(R"({"jsonrpc":"2.0","id":1,"method":"put","params":{"collection":"half",)"
                  R"("id":"h","data":{"x":")" +
                  std::string(4000, 'h'));
      ++stalled;
    } else {
      ++idle;
    }
    abusers.push_back(std::move(c));
  }
  std::atomic<bool> stop_droppers{false};
  std::atomic<long> batches_dropped{0};
  std::vector<std::thread> droppers;
  for (int d = 0; d < o.droppers; ++d) {
    droppers.emplace_back([&, d] {
      const std::string pad(100, 'b');
      for (long round = 0; !stop_droppers; ++round) {
        std::string batch = "[";
        for (int k = 0; k < o.batch; ++k) {
          if (k > 0) batch += ",";
          batch +=
              put_frame("batch", "d" + std::to_string(d) + "-" + std::to_string(k), round, pad, k);
        }
        batch += "]\n";
        Client c(syncd.socket());
        c.send_raw(batch);
        c.read_line(Millis(2000));  // at most the first bytes of the answer; then gone
        ++batches_dropped;
      }
    });
  }
  run_for(o.abuse_s);
  sampling = false;
  auto during = probe.take();
  const long rss_peak = peak_kib.load();

  stop_droppers = true;
  for (auto& t : droppers) t.join();
  abusers.clear();
  const int remaining = o.writers + 1;
  Client watcher(syncd.socket());
  auto open_connections = [&] {
    JsonDocument m = watcher.call("metrics");
    return m.IsObject() && m.HasMember("result")
               ? static_cast<int>(m["result"]["connections_open"].GetInt64()) - 1
               : -1;
  };
  const bool left = wait_until([&] { return open_connections() <= remaining; }, Millis(30000));
  probe.take();
  run_for(o.warmup_s);
  auto after = probe.take();
  const long rss_after = rss_kib(pid);
  JsonDocument metrics = watcher.call("metrics");
  JsonDocument status = watcher.call("status");
  stop_all = true;
  for (auto& t : threads) t.join();
  sampler.join();

  std::printf(
      "%d connections: %d subscribers that never read, %d half frames, %d idle; %d threads "
      "sending batches of %d puts and disconnecting (%ld batches); %d writers of ~1 KiB "
      "puts (%.0f/s in all); replay of %ld queued mutations to the reference server\n\n",
      subscribed + stalled + idle, subscribed, stalled, idle, o.droppers, o.batch,
      batches_dropped.load(), o.writers, o.write_rate, o.queued);
  std::printf("| phase | probe put+get p50 (ms) | p99 (ms) | max (ms) | pairs | errors |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (auto [name, figures] :
       {std::pair{"before", &before}, std::pair{"abuse", &during}, std::pair{"after", &after}}) {
    const auto& lat = figures->first;
    std::printf("| %s | %.2f | %.2f | %.2f | %zu | %ld |\n", name, percentile(lat, 0.5),
                percentile(lat, 0.99), lat.empty() ? 0 : lat.back(), lat.size(), figures->second);
  }
  std::printf("\n| syncd RSS | MiB |\n|---|---:|\n");
  std::printf("| at start | %.1f |\n| before the abusers | %.1f |\n| peak with them | %.1f |\n",
              mib(rss_start), mib(rss_before), mib(rss_peak));
  std::printf("| after they left | %.1f (%+.1f %% of before) |\n", mib(rss_after),
              100.0 * (static_cast<double>(rss_after) - static_cast<double>(rss_before)) /
                  static_cast<double>(rss_before));
  if (!left) std::printf("\nthe abusers' connections were still open after 30 s\n");
  std::printf("\nwriter errors: %ld\n", writer_errors.load());
  if (metrics.IsObject() && metrics.HasMember("result")) {
    std::printf("metrics: %s\n", syncd::to_json(metrics["result"]).c_str());
  }
  if (status.IsObject() && status.HasMember("result")) {
    std::printf("status: %s\n", syncd::to_json(status["result"]).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--connections") {
      o.connections = std::stoi(next());
    } else if (a == "--subscribers") {
      o.subscribers = std::stoi(next());
    } else if (a == "--half-frames") {
      o.half_frames = std::stoi(next());
    } else if (a == "--droppers") {
      o.droppers = std::stoi(next());
    } else if (a == "--batch") {
      o.batch = std::stoi(next());
    } else if (a == "--writers") {
      o.writers = std::stoi(next());
    } else if (a == "--write-rate") {
      o.write_rate = std::stod(next());
    } else if (a == "--queued") {
      o.queued = std::stol(next());
    } else if (a == "--warmup") {
      o.warmup_s = std::stod(next());
    } else if (a == "--seconds") {
      o.abuse_s = std::stod(next());
    } else if (a == "--no-replay") {
      o.replay = false;
    } else if (a == "--syncd-config") {
      o.syncd_config = next();
    } else {
      std::fprintf(
          stderr,
          "usage: hostile_clients [--connections N] [--subscribers N] [--half-frames N] "
          "[--droppers N] [--batch N] [--writers N] [--write-rate N] [--queued N] [--warmup S] "
          "[--seconds S] [--no-replay] [--syncd-config JSON]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  return run(o);
}
