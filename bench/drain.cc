// bench/drain: time for syncd to drain a queue of N mutations to the reference server,
// against the server's own ingest ceiling measured with a direct client.
//
// 1. The ceiling: a fresh reference server, one keep-alive connection (libcurl), pushes
//    of the same batches (500 new documents each) back to back; mutations/s.
// 2. The drain: syncd queues N puts while the server is down (its port closed), then the
//    server starts on that port; from then until syncd's queue is empty, mutations/s,
//    with syncd's RSS sampled every 100 ms.
//
// With --documents D the N puts go to D documents in turn (hot documents: each
// document's next mutation leaves only once the answer for its previous one is in).
//
// usage: drain [--mutations 100000] [--batch 500] [--inflight 8] [--runs 3] [--documents N]
#include <curl/curl.h>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sync/v1/bodies.h"
#include "tests/integration/harness.h"

namespace {

using namespace syncd;
using namespace syncd::testing;
using Clock = std::chrono::steady_clock;

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
      m.payload = R"({"title":"note )" + std::to_string(i) + R"(","done":false,"n":)" +
                  std::to_string(i) + "}";
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

struct DrainFigures {
  double rate = 0;
  double rss_min_mib = 0;
  double rss_max_mib = 0;
  double syncd_cpu = 0;
  double server_cpu = 0;
};

std::optional<DrainFigures> drain(long mutations, long batch, long inflight, long documents) {
  TempDir dir;
  RefServer server(dir);
  server.set_port(free_port());
  Syncd syncd(dir,
              R"({"backoff": {"initial_ms": 50, "max_ms": 100}, "sync": {"batch_size": )" +
                  std::to_string(batch) + R"(, "pull_interval_s": 3600, "max_inflight": )" +
                  std::to_string(inflight) + "}}",
              {}, server.url());
  if (!syncd.start()) {
    std::fprintf(stderr, "syncd did not start:\n%s\n", syncd.log().c_str());
    return std::nullopt;
  }
  pid_t pid = syncd.process()->pid();
  {
    Client client(syncd.socket());
    for (long i = 0; i < mutations; i += 500) {
      std::string frames;
      long n = std::min<long>(500, mutations - i);
      for (long k = 0; k < n; ++k) {
        frames += R"({"jsonrpc":"2.0","id":)" + std::to_string(k) +
                  R"(,"method":"put","params":{"collection":"bench","id":"d)" +
                  std::to_string(documents > 0 ? (i + k) % documents : i + k) +
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
  if (pending() != mutations) std::fprintf(stderr, "expected %ld queued\n", mutations);
  if (!server.start()) {
    std::fprintf(stderr, "refserver did not start:\n%s\n", server.log().c_str());
    return std::nullopt;
  }
  // From the moment the server listens: syncd's next probe (backoff at most 100 ms here)
  // finds it, then the replay runs.
  auto t0 = Clock::now();
  const double syncd_cpu0 = cpu_seconds(pid);
  const double server_cpu0 = cpu_seconds(server.pid());
  std::vector<long> samples;
  while (pending() > 0) {
    samples.push_back(rss_kib(pid));
    std::this_thread::sleep_for(Millis(100));  // sampling interval
    if (Clock::now() - t0 > std::chrono::minutes(10)) return std::nullopt;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  DrainFigures f;
  f.rate = static_cast<double>(mutations) / seconds;
  f.rss_min_mib = static_cast<double>(*std::min_element(samples.begin(), samples.end())) / 1024;
  f.rss_max_mib = static_cast<double>(*std::max_element(samples.begin(), samples.end())) / 1024;
  f.syncd_cpu = 100.0 * (cpu_seconds(pid) - syncd_cpu0) / seconds;
  f.server_cpu = 100.0 * (cpu_seconds(server.pid()) - server_cpu0) / seconds;
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 100000;
  long batch = 500;
  long inflight = 8;  // the default of sync.max_inflight
  int runs = 3;
  long documents = 0;  // 0: one document per mutation
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--mutations")
      mutations = std::stol(argv[i + 1]);
    else if (a == "--batch")
      batch = std::stol(argv[i + 1]);
    else if (a == "--inflight")
      inflight = std::stol(argv[i + 1]);
    else if (a == "--runs")
      runs = std::stoi(argv[i + 1]);
    else if (a == "--documents")
      documents = std::stol(argv[i + 1]);
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::vector<double> ceilings, rates;
  for (int r = 0; r < runs; ++r) {
    double direct = ceiling(mutations, batch);
    std::printf(
        "run %d: reference server ceiling (direct client, one connection, batches of %ld): "
        "%.0f mutations/s\n",
        r + 1, batch, direct);
    std::optional<DrainFigures> f = drain(mutations, batch, inflight, documents);
    if (!f) return 1;
    std::printf(
        "run %d: syncd drained %ld queued mutations at %.0f mutations/s "
        "(sync.max_inflight %ld); syncd RSS %.1f-%.1f MiB; CPU syncd %.0f %%, server %.0f %%\n",
        r + 1, mutations, f->rate, inflight, f->rss_min_mib, f->rss_max_mib, f->syncd_cpu,
        f->server_cpu);
    std::fflush(stdout);
    ceilings.push_back(direct);
    rates.push_back(f->rate);
  }
  std::printf("median ceiling %.0f/s, median drain %.0f/s, drain / ceiling %.2f\n",
              median(ceilings), median(rates), median(rates) / median(ceilings));
  return 0;
}
