#include "tests/hostile/hostile_fixture.h"

#include <algorithm>
#include <set>
#include <thread>

namespace syncd::testing {

const char* const kHostileConfig = R"({
  "backoff": {"initial_ms": 50, "factor": 2, "max_ms": 400},
  "breaker": {"failure_threshold": 4, "cooldown_ms": 400},
  "http": {"connect_timeout_ms": 500, "timeout_ms": 1500, "low_speed_time_s": 1,
           "max_response_bytes": 1048576},
  "sync": {"batch_size": 10, "pull_interval_s": 1},
  "store": {"synchronous": "normal"}
})";

void HostileTest::start(const std::string& script, const std::string& config, bool https) {
  hostile_ = std::make_unique<HostileServer>(dir_, script);
  ASSERT_TRUE(hostile_->start()) << hostile_->log();
  std::string remote = hostile_->url();
  std::string settings = config;
  if (https) {
    remote.replace(0, 4, "https");
    // syncd trusts the test CA, so the reference server can take over over https.
    certificates_ = std::make_unique<TestCertificates>(dir_);
    ASSERT_EQ(certificates_->error, "");
    JsonDocument doc;
    ASSERT_FALSE(parse_json(config, doc)) << config;
    JsonValue tls(rapidjson::kObjectType);
    tls.AddMember("ca_file", JsonValue(certificates_->ca.c_str(), doc.GetAllocator()),
                  doc.GetAllocator());
    doc.AddMember("tls", tls, doc.GetAllocator());
    settings = to_json(doc);
  }
  syncd_ = std::make_unique<Syncd>(dir_, settings, std::vector<std::string>{}, remote);
  ASSERT_TRUE(syncd_->start()) << syncd_->log();
  client_ = std::make_unique<Client>(syncd_->socket());
  ASSERT_TRUE(client_->connected());
}

void HostileTest::write_documents(int count) {
  const int first = static_cast<int>(written_.size());
  for (int i = first; i < first + count; ++i) {
    const std::string id = "doc" + std::to_string(i);
    const std::string data = R"({"n":)" + std::to_string(i) + "}";
    JsonDocument r =
        client_->call("put", R"({"collection":"h","id":")" + id + R"(","data":)" + data + "}");
    ASSERT_TRUE(r.IsObject() && r.HasMember("result")) << to_json(r);
    mutation_ids_.push_back(r["result"]["mutation_id"].GetString());
    written_[id] = data;
  }
}

JsonDocument HostileTest::status() {
  JsonDocument s = client_->call("status");
  EXPECT_TRUE(s.IsObject() && s.HasMember("result")) << "status did not answer";
  return s;
}

std::string HostileTest::last_error() {
  JsonDocument s = status();
  if (!s.IsObject() || !s.HasMember("result") || !s["result"]["last_error"].IsString()) return "";
  return s["result"]["last_error"].GetString();
}

int64_t HostileTest::queue_count(const char* state) {
  JsonDocument s = status();
  if (!s.IsObject() || !s.HasMember("result")) return -1;
  return s["result"]["queue"][state].GetInt64();
}

bool HostileTest::wait_for_error(const std::string& part, Millis timeout) {
  return wait_until([&] { return last_error().find(part) != std::string::npos; }, timeout);
}

int64_t HostileTest::requests_during(const std::string& path, Millis window) {
  const int64_t before = hostile_->requests(path);
  const auto end = std::chrono::steady_clock::now() + window;
  // Local calls meanwhile: syncd must keep answering while it backs off.
  while (std::chrono::steady_clock::now() < end) {
    EXPECT_TRUE(status().IsObject());
    std::this_thread::sleep_for(Millis(20));  // pacing the status calls, not a synchronisation
  }
  return hostile_->requests(path) - before;
}

std::vector<double> HostileTest::probe_latencies(Millis duration) {
  std::vector<double> out;
  Client probe(syncd_->socket());
  const auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) {
    const std::string id = "probe" + std::to_string(probes_++);
    auto t0 = std::chrono::steady_clock::now();
    JsonDocument put =
        probe.call("put", R"({"collection":"probe","id":")" + id + R"(","data":{"p":1}})");
    JsonDocument got = probe.call("get", R"({"collection":"probe","id":")" + id + R"("})");
    auto t1 = std::chrono::steady_clock::now();
    EXPECT_TRUE(put.IsObject() && put.HasMember("result"));
    EXPECT_TRUE(got.IsObject() && got.HasMember("result"));
    out.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(out.begin(), out.end());
  return out;
}

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

void HostileTest::expect_writes_kept() {
  ASSERT_TRUE(syncd_->process()->running()) << syncd_->log();
  EXPECT_EQ(queue_count("failed"), 0) << "a hostile answer dead-lettered writes";
  for (const auto& [id, data] : written_) {
    JsonDocument got = client_->call("get", R"({"collection":"h","id":")" + id + R"("})");
    ASSERT_TRUE(got.IsObject() && got.HasMember("result")) << id << ": " << to_json(got);
    EXPECT_EQ(to_json(got["result"]["data"]), data) << id;
  }
}

void HostileTest::recover() {
  expect_writes_kept();
  const int port = hostile_->port();
  hostile_->stop();
  reference_ = std::make_unique<RefServer>(dir_);
  if (certificates_) {
    reference_->serve_tls(certificates_->server_cert, certificates_->server_key, "", port);
  } else {
    reference_->set_port(port);
  }
  ASSERT_TRUE(reference_->start()) << reference_->log();
  client_->call("sync.now");
  ASSERT_TRUE(wait_until(
      [&] {
        client_->call("sync.now");  // skips the backoff wait the hostile server left
        return queue_count("pending") == 0 && queue_count("inflight") == 0;
      },
      Millis(20000)))
      << to_json(status()) << "\n"
      << syncd_->log();
  HttpResult applied = http_get(reference_->url() + "/admin/applied");
  JsonDocument doc;
  ASSERT_EQ(applied.status, 200);
  ASSERT_FALSE(parse_json(applied.body, doc));
  std::multiset<std::string> arrived;
  for (const auto& a : doc["applied"].GetArray()) {
    if (std::string(a["collection"].GetString()) == "h") arrived.insert(a["id"].GetString());
  }
  for (const auto& id : mutation_ids_) EXPECT_EQ(arrived.count(id), 1u) << "mutation " << id;
  EXPECT_EQ(arrived.size(), mutation_ids_.size());
  for (const auto& [id, data] : written_) {
    JsonDocument got = client_->call("get", R"({"collection":"h","id":")" + id + R"("})");
    ASSERT_TRUE(got.IsObject() && got.HasMember("result")) << id;
    EXPECT_EQ(to_json(got["result"]["data"]), data) << id;
    EXPECT_FALSE(got["result"]["pending"].GetBool()) << id;
    EXPECT_TRUE(got["result"]["version"].IsString()) << id;
  }
  EXPECT_EQ(queue_count("failed"), 0);
  EXPECT_TRUE(syncd_->process()->running());
}

}  // namespace syncd::testing
