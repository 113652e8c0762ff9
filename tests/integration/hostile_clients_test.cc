// Hostile and many clients (issue 8): subscribers that never read, batches whose answers
// are far larger than a client's output budget, disconnects in the middle of a batch,
// half frames that stall, a thousand connections during a replay. syncd must keep
// serving a probe client, keep each client within ipc.max_output_bytes and all of them
// within ipc.max_total_output_bytes, give memory back once the abusers are gone, and
// lose no acknowledged write (docs/PROTOCOL.md, "Output budgets").
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/integration/harness.h"

namespace syncd::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kPlainMalloc = false;  // the sanitizers' allocators keep freed memory
#else
constexpr bool kPlainMalloc = true;
#endif

constexpr long kChunkSlackBytes = 64 << 10;  // the output queue's chunk rounding and a line

// A counter of the `metrics` answer; -1 when syncd does not report it.
long metric(Client& client, const char* name) {
  JsonDocument m = client.call("metrics");
  if (!m.IsObject() || !m.HasMember("result") || !m["result"].HasMember(name)) return -1;
  return static_cast<long>(m["result"][name].GetInt64());
}

std::string put_request(const std::string& collection, const std::string& id,
                        const std::string& data, long rpc_id) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(rpc_id) +
         R"(,"method":"put","params":{"collection":")" + collection + R"(","id":")" + id +
         R"(","data":)" + data + "}}";
}

std::string batch_of_puts(const std::string& collection, const std::string& prefix, int count,
                          const std::string& pad) {
  std::string batch = "[";
  for (int i = 0; i < count; ++i) {
    if (i > 0) batch += ",";
    batch += put_request(collection, prefix + std::to_string(i),
                         R"({"i":)" + std::to_string(i) + R"(,"pad":")" + pad + "\"}", i);
  }
  return batch + "]\n";
}

JsonDocument parse(const std::string& line) {
  JsonDocument doc;
  EXPECT_FALSE(parse_json(line, doc)) << line.substr(0, 200);
  return doc;
}

// The complete answer objects at the start of a batch answer read only in part
// ("[{...},{...},{..."): an answer counts once its closing brace has arrived.
std::vector<std::string> complete_items(const std::string& partial) {
  std::vector<std::string> items;
  int depth = 0;
  bool in_string = false, escaped = false;
  size_t start = 0;
  for (size_t i = 1; i < partial.size(); ++i) {
    char ch = partial[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
      continue;
    }
    if (ch == '"') {
      in_string = true;
    } else if (ch == '{') {
      if (depth++ == 0) start = i;
    } else if (ch == '}' && --depth == 0) {
      items.push_back(partial.substr(start, i - start + 1));
    }
  }
  return items;
}

// Reads at least `at_least` bytes (or what came within `timeout`), newline or not.
std::string read_some(Client& client, size_t at_least, Millis timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < at_least) {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{client.fd(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
    char chunk[65536];
    ssize_t n = ::recv(client.fd(), chunk, sizeof chunk, 0);
    if (n <= 0) break;
    out.append(chunk, static_cast<size_t>(n));
  }
  return out;
}

class HostileClients : public ::testing::Test {
 protected:
  // A client that must keep being served whatever the others do.
  static void expect_probe_works(Syncd& syncd, const std::string& tag) {
    Client probe(syncd.socket());
    ASSERT_TRUE(probe.connected()) << tag;
    JsonDocument put =
        probe.call("put", R"({"collection":"probe","id":"p","data":{"tag":")" + tag + "\"}}");
    ASSERT_TRUE(put.IsObject() && put.HasMember("result")) << tag;
    JsonDocument get = probe.call("get", R"({"collection":"probe","id":"p"})");
    ASSERT_TRUE(get.IsObject() && get.HasMember("result")) << tag;
    EXPECT_EQ(std::string(get["result"]["data"]["tag"].GetString()), tag);
  }
  TempDir dir_;
};

TEST_F(HostileClients, ASubscriberThatNeverReadsStaysWithinItsBudgetAndIsToldWhatItMissed) {
  constexpr long kBudget = 256 << 10;
  Syncd syncd(dir_, R"({"ipc": {"max_output_bytes": 262144}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client subscriber(syncd.socket());
  ASSERT_TRUE(subscriber.call("subscribe", R"({"collection":"c"})").HasMember("result"));
  // From here the subscriber does not read: about 1.9 MB of notifications for it, far more
  // than its budget and the kernel's socket buffer.
  Client writer(syncd.socket());
  constexpr int kWrites = 600;
  const std::string pad(3000, 'n');
  for (int i = 0; i < kWrites; ++i) {
    JsonDocument put = writer.call("put", R"({"collection":"c","id":"d)" + std::to_string(i) +
                                              R"(","data":{"pad":")" + pad + "\"}}");
    ASSERT_TRUE(put.HasMember("result")) << "the writer was held up at " << i;
  }
  const long held_max = metric(writer, "output_bytes_max");
  EXPECT_GT(held_max, 0) << "syncd reports the output it holds";
  EXPECT_LE(held_max, kBudget + kChunkSlackBytes);
  EXPECT_EQ(metric(writer, "slow_reader_disconnects"), 0);
  expect_probe_works(syncd, "during");

  // Now it reads: every change up to the point its budget was full, in order, then one
  // gap notification counting the rest, then live changes again.
  int delivered = 0;
  long missed = -1;
  while (auto line = subscriber.read_line(Millis(10000))) {
    JsonDocument n = parse(*line);
    ASSERT_TRUE(n.IsObject() && n.HasMember("method")) << line->substr(0, 200);
    if (std::string(n["method"].GetString()) == "gap") {
      EXPECT_EQ(n["params"]["subscription"].GetInt(), 1);
      EXPECT_EQ(std::string(n["params"]["reason"].GetString()), "slow_reader");
      missed = n["params"]["missed"].GetInt64();
      break;
    }
    ASSERT_EQ(std::string(n["params"]["id"].GetString()), "d" + std::to_string(delivered))
        << "changes before the gap come in order, none left out";
    ++delivered;
  }
  ASSERT_GE(missed, 1) << "no gap notification (delivered " << delivered << ")";
  EXPECT_EQ(delivered + missed, kWrites);
  ASSERT_TRUE(
      writer.call("put", R"({"collection":"c","id":"after","data":{}})").HasMember("result"));
  auto live = subscriber.read_line(Millis(10000));
  ASSERT_TRUE(live) << "the subscription is live again after the gap";
  EXPECT_EQ(std::string(parse(*live)["params"]["id"].GetString()), "after");
  EXPECT_EQ(metric(writer, "notifications_dropped"), missed);
}

TEST_F(HostileClients, MemoryOfStalledSubscribersIsBoundedAndReturnedWhenTheyLeave) {
  constexpr int kSubscribers = 32;
  constexpr long kBudget = 1 << 20;
  Syncd syncd(dir_, R"({"ipc": {"max_output_bytes": 1048576}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  const pid_t pid = syncd.process()->pid();
  Client writer(syncd.socket());
  const std::string pad(4000, 'm');
  auto write_some = [&](const std::string& prefix, int count) {
    for (int i = 0; i < count; ++i) {
      JsonDocument put =
          writer.call("put", R"({"collection":"m","id":")" + prefix + std::to_string(i % 200) +
                                 R"(","data":{"pad":")" + pad + "\"}}");
      ASSERT_TRUE(put.HasMember("result"));
    }
  };
  write_some("warm", 600);  // the write path's own memory is in the baseline
  // Writes the applier has not put in the tables yet are held in memory (up to 8 MiB of
  // them): not the subscribers' memory, so both figures are taken without them. A read of
  // the tables settles them (the loop applies what the applier, at idle priority on a
  // busy machine, has not).
  auto applied = [&] {
    return wait_until(
        [&] {
          writer.call("list", R"({"collection":"m","limit":1})");
          return metric(writer, "journal_unapplied") == 0;
        },
        Millis(10000));
  };
  ASSERT_TRUE(applied());
  const long base_kib = rss_kib(pid);
  std::vector<std::unique_ptr<Client>> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    subscribers.push_back(std::make_unique<Client>(syncd.socket()));
    ASSERT_TRUE(subscribers.back()->call("subscribe").HasMember("result"));
  }
  long peak_kib = 0;
  for (int round = 0; round < 10; ++round) {
    write_some("d", 60);
    peak_kib = std::max(peak_kib, rss_kib(pid));
  }
  const long held = metric(writer, "output_bytes");
  EXPECT_GE(held, kSubscribers * kBudget / 2) << "the subscribers' budgets were filled";
  EXPECT_LE(metric(writer, "output_bytes_max"), kSubscribers * (kBudget + kChunkSlackBytes));
  subscribers.clear();
  ASSERT_TRUE(wait_until([&] { return metric(writer, "connections_open") == 1; }, Millis(10000)));
  EXPECT_EQ(metric(writer, "output_bytes"), 0);
  write_some("warm", 200);
  ASSERT_TRUE(applied());
  if (!kPlainMalloc) GTEST_SKIP() << "RSS is not meaningful under a sanitizer's allocator";
  EXPECT_LE(peak_kib - base_kib, kSubscribers * (kBudget + kChunkSlackBytes) / 1024 + 8 * 1024)
      << "base " << base_kib << " KiB, peak " << peak_kib << " KiB";
  // Given back a moment after they left (malloc_trim runs 50 ms after the last of it).
  long after_kib = 0;
  EXPECT_TRUE(wait_until(
      [&] { return (after_kib = rss_kib(pid)) <= base_kib + base_kib / 10 + 1024; }, Millis(5000)))
      << "memory is returned: base " << base_kib << " KiB, peak " << peak_kib << " KiB, after "
      << after_kib << " KiB, " << metric(writer, "memory_trims") << " trims";
}

TEST_F(HostileClients, OverTheGlobalBudgetTheLongestStalledClientsAreDisconnected) {
  constexpr int kSubscribers = 8;
  constexpr long kTotal = 1 << 20;
  Syncd syncd(dir_, R"({"ipc": {"max_output_bytes": 262144, "max_total_output_bytes": 1048576}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  std::vector<std::unique_ptr<Client>> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    subscribers.push_back(std::make_unique<Client>(syncd.socket()));
    ASSERT_TRUE(subscribers.back()->call("subscribe").HasMember("result"));
  }
  Client writer(syncd.socket());
  const std::string pad(3000, 'g');
  for (int i = 0; i < 800; ++i) {
    ASSERT_TRUE(writer
                    .call("put", R"({"collection":"g","id":"d)" + std::to_string(i) +
                                     R"(","data":{"pad":")" + pad + "\"}}")
                    .HasMember("result"));
  }
  const long held_max = metric(writer, "output_bytes_max");
  EXPECT_GT(held_max, 0);
  EXPECT_LE(held_max, kTotal + kChunkSlackBytes);
  const long cut = metric(writer, "slow_reader_disconnects");
  EXPECT_GE(cut, kSubscribers / 2) << "8 budgets of 256 KiB do not fit in 1 MiB";
  EXPECT_LT(cut, kSubscribers) << "only as many as needed are cut";
  int closed = 0, told = 0;
  for (auto& s : subscribers) {
    std::optional<std::string> line;
    bool gap = false;
    while ((line = s->read_line(Millis(5000)))) {
      if (line->find(R"("method":"gap")") != std::string::npos) {
        gap = true;
        break;
      }
    }
    if (gap) {
      ++told;
    } else {
      ++closed;
    }
  }
  EXPECT_EQ(closed, cut) << "a disconnected subscriber reads to the end of what it was sent";
  EXPECT_EQ(told, kSubscribers - cut) << "the others stay and are told what they missed";
  expect_probe_works(syncd, "after");
}

TEST_F(HostileClients, ABatchAnswerLargerThanTheBudgetIsStreamedInSlices) {
  // 5,000 puts with long names: an answer of about 2.6 MB for a budget of 64 KiB.
  Syncd syncd(dir_, R"({"ipc": {"max_frame_bytes": 4194304, "max_output_bytes": 65536}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  constexpr int kItems = 5000;
  const std::string collection(200, 'c');
  const std::string prefix = std::string(190, 'i') + "-";
  Client batcher(syncd.socket());
  ASSERT_TRUE(batcher.send_raw(batch_of_puts(collection, prefix, kItems, "x")));
  Client probe(syncd.socket());
  ASSERT_TRUE(wait_until([&] { return metric(probe, "writes") > 0; }, Millis(10000)));
  // The batch client reads nothing yet: its batch waits once its unsent answers reach
  // half its budget, and the others are served meanwhile.
  const std::string last = R"({"collection":")" + collection + R"(","id":")" + prefix +
                           std::to_string(kItems - 1) + "\"}";
  JsonDocument early = probe.call("get", last);
  ASSERT_TRUE(early.IsObject());
  EXPECT_TRUE(early.HasMember("error")) << "the whole batch ran at once";
  expect_probe_works(syncd, "during");
  EXPECT_LT(metric(probe, "writes"), kItems);

  auto answer = batcher.read_line(Millis(30000));
  ASSERT_TRUE(answer) << "the reading client was cut off";
  JsonDocument doc = parse(*answer);
  ASSERT_TRUE(doc.IsArray()) << answer->substr(0, 200);
  ASSERT_EQ(doc.Size(), static_cast<unsigned>(kItems));
  for (int i = 0; i < kItems; ++i) {
    ASSERT_EQ(doc[i]["id"].GetInt(), i) << "answers in request order";
    ASSERT_TRUE(doc[i].HasMember("result")) << i;
  }
  EXPECT_TRUE(probe.call("get", last).HasMember("result"));
  EXPECT_EQ(metric(probe, "slow_reader_disconnects"), 0);
}

// Two clients send batches of 1 KiB puts back to back, faster than the applier thread
// puts them in the tables. Before, the loop then applied slices itself, while every
// other client waited (bench/README.md, hostile_clients); now the batch writers wait for
// the applier, and every write is still done and acknowledged.
TEST_F(HostileClients, BatchWritersFasterThanTheApplierArePacedAndLoseNothing) {
  Syncd syncd(dir_, R"({"ipc": {"max_frame_bytes": 16777216}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  constexpr int kWriters = 2;
  constexpr int kBatches = 3;
  constexpr int kItems = 4000;
  std::vector<std::thread> writers;
  std::atomic<int> acknowledged{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Client c(syncd.socket());
      for (int b = 0; b < kBatches; ++b) {
        if (!c.send_raw(batch_of_puts("paced",
                                      "w" + std::to_string(w) + "-" + std::to_string(b) + "-",
                                      kItems, std::string(1000, 'p')))) {
          return;
        }
        auto answer = c.read_line(Millis(60000));
        if (!answer) return;
        JsonDocument doc = parse(*answer);
        if (!doc.IsArray()) return;
        for (const auto& item : doc.GetArray()) acknowledged += item.HasMember("result") ? 1 : 0;
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(acknowledged.load(), kWriters * kBatches * kItems);
  Client check(syncd.socket());
  EXPECT_GT(metric(check, "writers_paced"), 0) << "the applier kept up: nothing was paced";
  for (int w = 0; w < kWriters; ++w) {
    for (int b = 0; b < kBatches; ++b) {
      const std::string id =
          "w" + std::to_string(w) + "-" + std::to_string(b) + "-" + std::to_string(kItems - 1);
      EXPECT_TRUE(
          check.call("get", R"({"collection":"paced","id":")" + id + "\"}").HasMember("result"))
          << id;
    }
  }
  JsonDocument status = check.call("status");
  ASSERT_TRUE(status.HasMember("result"));
  EXPECT_EQ(status["result"]["queue"]["pending"].GetInt64(), kWriters * kBatches * kItems);
}

TEST_F(HostileClients, ABatchOfMoreThanMaxBatchRequestsIsRefusedWhole) {
  Syncd syncd(dir_, R"({"ipc": {"max_batch": 100}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client client(syncd.socket());
  ASSERT_TRUE(client.send_raw(batch_of_puts("c", "d", 101, "")));
  auto line = client.read_line();
  ASSERT_TRUE(line);
  JsonDocument answer = parse(*line);
  ASSERT_TRUE(answer.IsObject()) << "one error for the whole batch";
  EXPECT_EQ(answer["error"]["code"].GetInt(), -32600);
  EXPECT_EQ(std::string(answer["error"]["data"]["reason"].GetString()), "too_large");
  EXPECT_NE(std::string(answer["error"]["message"].GetString()).find("ipc.max_batch"),
            std::string::npos);
  EXPECT_TRUE(answer["id"].IsNull());
  JsonDocument status = client.call("status");
  EXPECT_EQ(status["result"]["queue"]["pending"].GetInt(), 0) << "nothing of it ran";
  ASSERT_TRUE(client.send_raw(batch_of_puts("c", "d", 100, "")));
  auto ok = client.read_line();
  ASSERT_TRUE(ok) << "the connection stays open";
  JsonDocument answers = parse(*ok);
  ASSERT_TRUE(answers.IsArray()) << ok->substr(0, 200);
  EXPECT_EQ(answers.Size(), 100u);
}

TEST_F(HostileClients, ADisconnectInTheMiddleOfABatchLosesNoAcknowledgedWrite) {
  Syncd syncd(dir_, R"({"ipc": {"max_frame_bytes": 4194304, "max_output_bytes": 65536}})");
  ASSERT_TRUE(syncd.start()) << syncd.log();
  constexpr int kItems = 5000;
  std::vector<std::string> acknowledged;
  {
    Client batcher(syncd.socket());
    ASSERT_TRUE(batcher.send_raw(batch_of_puts("b", "d", kItems, std::string(100, 'p'))));
    std::string partial = read_some(batcher, 100 << 10, Millis(10000));
    for (const auto& item : complete_items(partial)) {
      JsonDocument a = parse(item);
      ASSERT_TRUE(a.HasMember("result")) << item;
      acknowledged.push_back(a["result"]["id"].GetString());
    }
  }  // gone, most of its batch unanswered
  ASSERT_GE(acknowledged.size(), 100u);
  ASSERT_LT(acknowledged.size(), static_cast<size_t>(kItems));
  expect_probe_works(syncd, "after the disconnect");
  syncd.kill9();  // acknowledged means durable
  ASSERT_TRUE(syncd.start()) << syncd.log();
  Client check(syncd.socket());
  for (size_t i = 0; i < acknowledged.size(); ++i) {
    JsonDocument get = check.call("get", R"({"collection":"b","id":")" + acknowledged[i] + "\"}");
    ASSERT_TRUE(get.HasMember("result")) << acknowledged[i] << " was acknowledged but is gone";
    EXPECT_EQ(get["result"]["data"]["i"].GetInt(), static_cast<int>(i));
  }
}

// The suite's scene: a thousand connections (a hundred subscribers to everything that
// never read, a hundred half frames that stall, the rest idle), clients that disconnect
// in the middle of batches, writers on a busy collection, while syncd replays its queue to
// the reference server. The probe keeps being served; memory stays within the budgets
// and comes back when the abusers leave; the replay goes on.
TEST_F(HostileClients, AThousandConnectionsDuringAReplayDoNotStopTheProbe) {
  constexpr int kConnections = 1000, kSubscribers = 100, kHalfFrames = 100;
  constexpr long kTotal = 8 << 20;
  rlimit files{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  if (files.rlim_cur < kConnections + 200) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, kConnections + 200);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0);  // syncd inherits it
  }
  if (files.rlim_cur < kConnections + 200) GTEST_SKIP() << "RLIMIT_NOFILE too low";
  RefServer server(dir_);
  const int port = free_port();
  server.set_port(port);
  Syncd syncd(dir_, R"({"ipc": {"max_output_bytes": 262144, "max_total_output_bytes": 8388608},
                         "backoff": {"initial_ms": 20, "max_ms": 200}})",
              {}, "http://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(syncd.start()) << syncd.log();
  const pid_t pid = syncd.process()->pid();
  {
    Client loader(syncd.socket());  // a queue to replay
    for (int round = 0; round < 4; ++round) {
      ASSERT_TRUE(loader.send_raw(
          batch_of_puts("queued", "r" + std::to_string(round) + "-", 500, std::string(200, 'q'))));
      ASSERT_TRUE(loader.read_line());
    }
  }
  ASSERT_TRUE(server.start()) << server.log();

  std::atomic<bool> stop{false};
  std::atomic<long> writer_failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      Client c(syncd.socket());
      const std::string pad(1000, 'w');
      for (long i = 0; !stop; ++i) {
        JsonDocument put =
            c.call("put", R"({"collection":"busy","id":"w)" + std::to_string(w) + "-" +
                              std::to_string(i % 100) + R"(","data":{"pad":")" + pad + "\"}}");
        if (!put.IsObject() || !put.HasMember("result")) ++writer_failures;
      }
    });
  }
  threads.emplace_back([&] {  // batches abandoned half-answered
    for (int round = 0; !stop; ++round) {
      Client c(syncd.socket());
      c.send_raw(batch_of_puts("dropped", "d", 500, ""));
      c.read_line(Millis(500));
    }
  });
  Client watcher(syncd.socket());
  wait_until([&] { return metric(watcher, "writes") > 2500; }, Millis(10000));
  const long before_kib = rss_kib(pid);

  std::vector<std::unique_ptr<Client>> abusers;
  for (int i = 0; i < kConnections; ++i) {
    auto c = std::make_unique<Client>(syncd.socket());
    ASSERT_TRUE(c->connected()) << "connection " << i;
    if (i < kSubscribers) {
      c->send_raw(R"({"jsonrpc":"2.0","id":1,"method":"subscribe"})"
                  "\n");
    } else if (i < kSubscribers + kHalfFrames) {
      c->send_raw(R"({"jsonrpc":"2.0","id":1,"method":"put","params":{"collection":"h","id":")" +
                  std::string(2000, 'h'));
    }
    abusers.push_back(std::move(c));
  }
  long peak_kib = 0;
  double worst_ms = 0;
  auto until = std::chrono::steady_clock::now() + Millis(2500);
  for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    expect_probe_works(syncd, "p" + std::to_string(i));
    worst_ms = std::max(
        worst_ms,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    peak_kib = std::max(peak_kib, rss_kib(pid));
  }
  EXPECT_LT(worst_ms, 2000) << "the probe was held up";
  const long held_max = metric(watcher, "output_bytes_max");
  EXPECT_GT(held_max, 0);
  EXPECT_LE(held_max, kTotal + kChunkSlackBytes);

  abusers.clear();
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(writer_failures.load(), 0);
  ASSERT_TRUE(wait_until([&] { return metric(watcher, "connections_open") == 1; }, Millis(10000)));
  expect_probe_works(syncd, "after");
  // The replay went on: the queue drains to the server.
  EXPECT_TRUE(wait_until(
      [&] {
        JsonDocument s = watcher.call("status");
        return s.IsObject() && s.HasMember("result") &&
               s["result"]["queue"]["pending"].GetInt() +
                       s["result"]["queue"]["inflight"].GetInt() ==
                   0;
      },
      Millis(30000)));
  if (!kPlainMalloc) GTEST_SKIP() << "RSS is not meaningful under a sanitizer's allocator";
  // The budgets, the 100 half frames and the 1,000 connections' own state.
  EXPECT_LE(peak_kib, before_kib + kTotal / 1024 + 16 * 1024)
      << "before " << before_kib << " KiB, peak " << peak_kib << " KiB";
  long after_kib = 0;
  EXPECT_TRUE(
      wait_until([&] { return (after_kib = rss_kib(pid)) <= before_kib + before_kib / 10 + 1024; },
                 Millis(5000)))
      << "before " << before_kib << " KiB, peak " << peak_kib << " KiB, after " << after_kib;
}

}  // namespace
}  // namespace syncd::testing
