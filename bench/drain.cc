// bench/drain: time for syncd to drain a queue of N mutations to the reference server,
// against the server's own ingest ceiling measured with a direct client.
//
// 1. The ceiling: a fresh reference server, one keep-alive connection (libcurl), pushes
//    of the same batches (500 new documents each) back to back; mutations/s.
// 2. The drain: syncd queues N puts while the server is down (its port closed), then the
//    server starts on that port; from then until syncd's queue is empty, mutations/s,
//    with syncd's RSS sampled every 100 ms.
//
// usage: drain [--mutations 100000] [--batch 500]
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unistd.h>
#include <thread>
#include <string>
#include <vector>

#include "sync/push_protocol.h"
#include "tests/integration/harness.h"

namespace {

using namespace syncd;
using namespace syncd::testing;
using Clock = std::chrono::steady_clock;

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

size_t discard(char*, size_t size, size_t count, void*) { return size * count; }

double ceiling(long mutations, long batch) {
  TempDir dir;
  RefServer server(dir);
  if (!server.start()) {
    std::fprintf(stderr, "refserver did not start:\n%s\n", server.log().c_str());
    return 0;
  }
  std::vector<std::string> bodies;
  for (long b = 0; b * batch < mutations; ++b) {
    std::vector<Mutation> ms;
    for (long i = 0; i < batch; ++i) {
      Mutation m;
      m.id = "c-" + std::to_string(b) + "-" + std::to_string(i);
      m.collection = "bench";
      m.doc_id = "d" + std::to_string(b * batch + i);
      m.payload = R"({"title":"note )" + std::to_string(i) + R"(","done":false,"n":)" + std::to_string(i) + "}";
      ms.push_back(std::move(m));
    }
    bodies.push_back(build_push_body("direct-client", ms));
  }
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, (server.url() + "/v1/push").c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  auto t0 = Clock::now();
  for (const auto& body : bodies) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    if (curl_easy_perform(curl) != CURLE_OK) std::fprintf(stderr, "push failed\n");
  }
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return static_cast<double>(bodies.size() * batch) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 100000;
  long batch = 500;
  long inflight = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--mutations") mutations = std::stol(argv[i + 1]);
    else if (a == "--batch") batch = std::stol(argv[i + 1]);
    else if (a == "--inflight") inflight = std::stol(argv[i + 1]);
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::printf("reference server ceiling (direct client, batches of %ld): ", batch);
  std::fflush(stdout);
  double direct = ceiling(mutations, batch);
  std::printf("%.0f mutations/s\n", direct);

  TempDir dir;
  RefServer server(dir);
  server.set_port(free_port());
  Syncd syncd(dir,
              R"({"backoff": {"initial_ms": 50, "max_ms": 100},
                  "sync": {"batch_size": )" + std::to_string(batch) + R"(, "pull_interval_s": 3600, "max_inflight": )" + std::to_string(inflight) + R"(}})",
              {}, server.url());
  if (!syncd.start()) {
    std::fprintf(stderr, "syncd did not start:\n%s\n", syncd.log().c_str());
    return 1;
  }
  pid_t pid = syncd.process()->pid();
  {
    Client client(syncd.socket());
    for (long i = 0; i < mutations; i += 500) {
      std::string frames;
      long n = std::min<long>(500, mutations - i);
      for (long k = 0; k < n; ++k) {
        frames += R"({"jsonrpc":"2.0","id":)" + std::to_string(k) +
                  R"(,"method":"put","params":{"collection":"bench","id":"d)" + std::to_string(i + k) +
                  R"(","data":{"title":"note )" + std::to_string(k) + R"(","done":false,"n":)" +
                  std::to_string(k) + "}}}\n";
      }
      client.send_raw(frames);
      for (long k = 0; k < n; ++k) client.read_line(Millis(60000));
    }
  }
  Client client(syncd.socket());
  auto pending = [&] {
    JsonDocument s = client.call("status");
    const auto& q = s["result"]["queue"];
    return q["pending"].GetInt64() + q["inflight"].GetInt64();
  };
  std::printf("queued %ld mutations offline (syncd RSS %.1f MiB)\n", pending(),
              static_cast<double>(rss_kib(pid)) / 1024);
  long rss_max = 0;
  if (!server.start()) {
    std::fprintf(stderr, "refserver did not start:\n%s\n", server.log().c_str());
    return 1;
  }
  // From the moment the server listens: syncd's next probe (backoff at most 100 ms here)
  // finds it, then the replay runs.
  auto t0 = Clock::now();
  auto cpu_ticks = [](pid_t p) {
    std::ifstream in("/proc/" + std::to_string(p) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string f;
    long ticks = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14 || i == 15) ticks += std::stol(f);
    }
    return ticks;
  };
  const long syncd_cpu0 = cpu_ticks(pid);
  const long server_cpu0 = cpu_ticks(server.pid());
  std::vector<long> samples;
  while (pending() > 0) {
    long rss = rss_kib(pid);
    samples.push_back(rss);
    rss_max = std::max(rss_max, rss);
    std::this_thread::sleep_for(Millis(100));  // sampling interval
    if (Clock::now() - t0 > std::chrono::minutes(10)) {
      std::fprintf(stderr, "drain did not finish in 10 minutes\n");
      return 1;
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  double rate = static_cast<double>(mutations) / seconds;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::printf("CPU during the drain: syncd %.0f %%, reference server %.0f %% (of one core)\n",
              100.0 * static_cast<double>(cpu_ticks(pid) - syncd_cpu0) / hz / seconds,
              100.0 * static_cast<double>(cpu_ticks(server.pid()) - server_cpu0) / hz / seconds);
  std::printf("drained %ld mutations in %.2f s: %.0f mutations/s (includes the first probe)\n",
              mutations, seconds, rate);
  std::printf("syncd RSS during the drain: min %.1f MiB, max %.1f MiB over %zu samples\n",
              static_cast<double>(*std::min_element(samples.begin(), samples.end())) / 1024,
              static_cast<double>(rss_max) / 1024, samples.size());
  std::printf("drain / ceiling: %.2f\n", direct > 0 ? rate / direct : 0);
  return 0;
}
