// bench/ipc_write: durable writes over the local socket.
//
// For each client count (default 1, 16, 64) every client does sequential puts (send one,
// wait for its answer) for a fixed time; reports ops/s and p50/p99 latency. The same
// client pattern then runs against redis-server on a Unix socket with appendonly yes and
// appendfsync always (SET of the same JSON), the two in turn `runs` times, and the
// median ratio is printed. Finally syncd's
// RSS is sampled while 1M mutations are queued by pipelining clients.
//
// usage: ipc_write [--clients 1,16,64] [--seconds 5] [--runs 3] [--rss-mutations 1000000]
//                  [--redis-server PATH] [--no-redis]
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"
#include "util/json.h"

namespace {

using namespace syncd::testing;
using syncd::JsonDocument;
using Clock = std::chrono::steady_clock;

struct Figures {
  double ops_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  long ops = 0;
  long errors = 0;
  double server_cpu_us_per_op = 0;  // the server's user+system CPU per acknowledged op
  double client_cpu_us_per_op = 0;  // this driver's CPU per op (the same for both targets)
};

double self_cpu_us() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + t.tv_usec; };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

// A request for client `c`'s i-th write, and how its answer starts.
using MakeRequest = std::string (*)(int client, long i);

std::string syncd_put(int client, long i) {
  std::string id = "c" + std::to_string(client) + "-" + std::to_string(i);
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
         R"(,"method":"put","params":{"collection":"bench","id":")" + id +
         R"(","data":{"title":"note )" + std::to_string(i) + R"(","done":false,"n":)" +
         std::to_string(i) + "}}}\n";
}

std::string redis_set(int client, long i) {
  std::string key = "bench:c" + std::to_string(client) + "-" + std::to_string(i);
  std::string value =
      R"({"title":"note )" + std::to_string(i) + R"(","done":false,"n":)" + std::to_string(i) + "}";
  return "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$" +
         std::to_string(value.size()) + "\r\n" + value + "\r\n";
}

Figures drive(const std::string& socket, int clients, double seconds, MakeRequest make,
              const char* ok_token, pid_t server = -1) {
  double server_cpu0 = server > 0 ? cpu_seconds(server) * 1e6 : 0;
  double self_cpu0 = self_cpu_us();
  std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
  std::atomic<long> errors{0};
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Client client(socket);
      if (!client.connected()) {
        ++errors;
        return;
      }
      auto& mine = latencies[static_cast<size_t>(c)];
      for (long i = 0; Clock::now() < deadline; ++i) {
        auto t0 = Clock::now();
        if (!client.send_raw(make(c, i))) {
          ++errors;
          return;
        }
        auto line = client.read_line(Millis(30000));
        if (!line || line->find(ok_token) == std::string::npos) {
          ++errors;
          if (!line) return;
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  double server_cpu = server > 0 ? cpu_seconds(server) * 1e6 - server_cpu0 : 0;
  double self_cpu = self_cpu_us() - self_cpu0;
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Figures f;
  f.ops = static_cast<long>(all.size());
  f.errors = errors;
  f.ops_per_s = static_cast<double>(all.size()) / elapsed;
  if (!all.empty()) {
    f.p50_us = all[all.size() / 2];
    f.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    f.server_cpu_us_per_op = server_cpu / static_cast<double>(all.size());
    f.client_cpu_us_per_op = self_cpu / static_cast<double>(all.size());
  }
  return f;
}

void print_row(const char* target, int clients, const Figures& f) {
  std::printf("| %-28s | %7d | %10.0f | %9.0f | %9.0f | %10.1f | %10.1f | %8ld | %6ld |\n", target,
              clients, f.ops_per_s, f.p50_us, f.p99_us, f.server_cpu_us_per_op,
              f.client_cpu_us_per_op, f.ops, f.errors);
  std::fflush(stdout);
}

bool start_redis(const std::string& redis_bin, const TempDir& dir, std::unique_ptr<Process>& out) {
  std::string socket = dir.file("redis.sock");
  out = std::make_unique<Process>(
      std::vector<std::string>{redis_bin, "--port", "0", "--unixsocket", socket, "--unixsocketperm",
                               "700", "--dir", dir.path(), "--appendonly", "yes", "--appendfsync",
                               "always", "--save", "", "--daemonize", "no"},
      dir.file("redis.log"), dir.file("redis.log"));
  return wait_until(
      [&] {
        Client probe(socket);
        return probe.connected() && probe.send_raw("PING\r\n") && probe.read_line(Millis(1000));
      },
      Millis(10000));
}

void rss_run(long total, int clients) {
  TempDir dir;
  Syncd syncd(dir);
  if (!syncd.start()) {
    std::fprintf(stderr, "syncd did not start:\n%s\n", syncd.log().c_str());
    return;
  }
  pid_t pid = syncd.process()->pid();
  std::printf(
      "\nRSS of syncd while queueing %ld mutations (%d pipelining clients, 500 per batch)\n\n",
      total, clients);
  std::printf("| queued mutations | RSS (MiB) |\n|---:|---:|\n");
  std::printf("| 0 | %.1f |\n", static_cast<double>(rss_kib(pid)) / 1024);
  std::atomic<long> done{0};
  const long per_client = total / clients;
  const long step = total / 10;
  std::atomic<long> next_report{step};
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Client client(syncd.socket());
      for (long i = 0; i < per_client;) {
        long n = std::min<long>(500, per_client - i);
        std::string frames;
        for (long k = 0; k < n; ++k) frames += syncd_put(c, i + k);
        client.send_raw(frames);
        for (long k = 0; k < n; ++k) client.read_line(Millis(60000));
        i += n;
        long now_done = done += n;
        long mark = next_report.load();
        if (now_done >= mark && next_report.compare_exchange_strong(mark, mark + step)) {
          std::printf("| %ld | %.1f |\n", mark, static_cast<double>(rss_kib(pid)) / 1024);
          std::fflush(stdout);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Client check(syncd.socket());
  auto status = check.call("status");
  std::printf(
      "\nqueued %ld in %.1f s (%.0f durable puts/s pipelined); status reports %d pending; "
      "final RSS %.1f MiB\n",
      done.load(), elapsed, static_cast<double>(done.load()) / elapsed,
      status.IsObject() ? status["result"]["queue"]["pending"].GetInt() : -1,
      static_cast<double>(rss_kib(pid)) / 1024);
  syncd.stop();
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoi(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> client_counts = {1, 16, 64};
  double seconds = 5;
  int runs = 3;
  long rss_mutations = 1'000'000;
  std::string redis_bin = "/usr/bin/redis-server";
  bool redis = true;
  std::string syncd_config;     // JSON config text for syncd (default: embedded defaults)
  std::string external_socket;  // drive an already running syncd (for profiling) and stop
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--clients")
      client_counts = parse_list(next());
    else if (a == "--seconds")
      seconds = std::stod(next());
    else if (a == "--runs")
      runs = std::max(1, std::stoi(next()));
    else if (a == "--rss-mutations")
      rss_mutations = std::stol(next());
    else if (a == "--redis-server")
      redis_bin = next();
    else if (a == "--no-redis")
      redis = false;
    else if (a == "--syncd-config")
      syncd_config = next();
    else if (a == "--socket")
      external_socket = next();
    else {
      std::fprintf(stderr,
                   "usage: ipc_write [--clients 1,16,64] [--seconds S] [--runs N] "
                   "[--rss-mutations N] [--redis-server PATH] [--no-redis]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  if (redis && access(redis_bin.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "%s not found: install redis-server or pass --no-redis\n",
                 redis_bin.c_str());
    return 2;
  }
  std::printf(
      "durable writes, %.0f s per run, median of %d runs; syncd: journal fdatasync per turn "
      "(group commit); redis: appendonly yes, appendfsync always\n\n",
      seconds, runs);
  std::printf(
      "| target                       | clients |      ops/s |  p50 (us) |  p99 (us) | server CPU "
      "| client CPU |      ops | errors |\n");
  std::printf(
      "|------------------------------|--------:|-----------:|----------:|----------:|-----------:"
      "|-----------:|---------:|-------:|\n");
  if (!external_socket.empty()) {
    for (int clients : client_counts) {
      print_row("syncd put (external)", clients,
                drive(external_socket, clients, seconds, syncd_put, "\"result\""));
    }
    return 0;
  }
  std::vector<std::pair<int, double>> ratios;
  std::vector<std::pair<int, double>> writes_per_commit;
  auto run_syncd = [&](int clients, Figures& out) {
    TempDir dir;
    Syncd syncd(dir, syncd_config);
    if (!syncd.start()) {
      std::fprintf(stderr, "syncd did not start:\n%s\n", syncd.log().c_str());
      return false;
    }
    out = drive(syncd.socket(), clients, seconds, syncd_put, "\"result\"", syncd.process()->pid());
    Client probe(syncd.socket());
    JsonDocument metrics = probe.call("metrics");
    if (metrics.IsObject() && metrics.HasMember("result")) {
      const auto& m = metrics["result"];
      writes_per_commit.emplace_back(
          clients, static_cast<double>(m["writes"].GetUint64()) /
                       static_cast<double>(std::max<uint64_t>(1, m["commits"].GetUint64())));
    }
    syncd.stop();
    return true;
  };
  auto run_redis = [&](int clients, Figures& out) {
    TempDir dir;
    std::unique_ptr<Process> server;
    if (!start_redis(redis_bin, dir, server)) {
      std::fprintf(stderr, "redis-server did not start:\n%s\n",
                   read_file(dir.file("redis.log")).c_str());
      return false;
    }
    out = drive(dir.file("redis.sock"), clients, seconds, redis_set, "+OK", server->pid());
    server->signal(SIGTERM);
    server->wait_exit(Millis(10000));
    return true;
  };
  // The machine's speed drifts over seconds, so the two run in turn, `runs` times, and
  // the ratio is the median of each adjacent pair's; the rows are each side's median run.
  auto median_run = [](std::vector<Figures> runs) {
    std::sort(runs.begin(), runs.end(),
              [](const Figures& a, const Figures& b) { return a.ops_per_s < b.ops_per_s; });
    return runs[runs.size() / 2];
  };
  for (int clients : client_counts) {
    std::vector<Figures> ours(static_cast<size_t>(runs)), theirs;
    std::vector<double> pair_ratios;
    for (int r = 0; r < runs; ++r) {
      if (!run_syncd(clients, ours[static_cast<size_t>(r)])) return 1;
      if (redis) {
        theirs.emplace_back();
        if (!run_redis(clients, theirs.back())) return 1;
        pair_ratios.push_back(theirs.back().ops_per_s > 0
                                  ? ours[static_cast<size_t>(r)].ops_per_s / theirs.back().ops_per_s
                                  : 0);
      }
    }
    print_row("syncd put", clients, median_run(ours));
    if (redis) {
      print_row("redis SET (AOF always)", clients, median_run(theirs));
      std::sort(pair_ratios.begin(), pair_ratios.end());
      ratios.emplace_back(clients, pair_ratios[pair_ratios.size() / 2]);
    }
  }
  std::printf("\n");
  for (int clients : client_counts) {
    double sum = 0;
    int n = 0;
    for (auto [c, per_commit] : writes_per_commit) {
      if (c == clients) sum += per_commit, ++n;
    }
    if (n > 0) std::printf("syncd writes per commit at %d clients: %.1f\n", clients, sum / n);
  }
  if (!ratios.empty()) {
    std::printf("\n");
    for (auto [clients, ratio] : ratios) {
      std::printf("syncd / redis at %d clients: %.2f\n", clients, ratio);
    }
  }
  if (rss_mutations > 0) rss_run(rss_mutations, 4);
  return 0;
}
