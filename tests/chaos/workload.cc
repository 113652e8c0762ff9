#include "tests/chaos/workload.h"

#include "tests/integration/harness.h"
#include "util/random.h"

namespace syncd::chaos {
namespace {

// Half the writes go to the first tenth of the documents: they queue many mutations
// each, which is where per-document order and rebasing are tested.
int pick_document(Random& random, int documents) {
  const int hot = std::max(1, documents / 10);
  if (random.next_u64() % 2 == 0) return static_cast<int>(random.next_u64() % hot);
  return static_cast<int>(random.next_u64() % static_cast<uint64_t>(documents));
}

std::string pad(Random& random, size_t max_bytes) {
  const size_t n = max_bytes == 0 ? 0 : random.next_u64() % (max_bytes + 1);
  std::string s(n, 'a');
  for (char& c : s) c = static_cast<char>('a' + random.next_u64() % 26);
  return s;
}

}  // namespace

void Workload::start(const std::string& socket, int round) {
  stopping_ = false;
  for (int w = 0; w < shape_.writers; ++w) {
    threads_.emplace_back([this, socket, w, round] { run_writer(socket, w, round); });
  }
}

void Workload::stop() {
  stopping_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Workload::run_writer(const std::string& socket, int writer, int round) {
  Xoshiro256 random(seed_ * 1000003 + static_cast<uint64_t>(round) * 1009 +
                    static_cast<uint64_t>(writer));
  testing::Client client(socket);
  for (int64_t n = 0; !stopping_ && client.connected(); ++n) {
    const std::string doc = doc_id(pick_document(random, shape_.documents));
    const uint64_t dice = random.next_u64() % 10;
    const std::string method = dice < 7 ? "put" : dice < 9 ? "patch" : "delete";
    std::string params =
        std::string(R"({"collection":")") + kCollection + R"(","id":")" + doc + "\"";
    if (method != "delete") {
      const std::string stamp = "\"r" + std::to_string(round) + "w" + std::to_string(writer) + "n" +
                                std::to_string(n) + "\"";
      params += method == "put" ? R"(,"data":{"stamp":)" + stamp + R"(,"pad":")" +
                                      pad(random, shape_.max_pad_bytes) + "\"}"
                                : R"(,"data":{"patched":)" + stamp + "}";
    }
    params += "}";
    JsonDocument answer = client.call(method, params);
    if (!answer.IsObject()) {  // no answer: the daemon went away with the request
      ++unanswered_;
      return;
    }
    std::lock_guard lock(mutex_);
    if (answer.HasMember("result")) {
      acked_.push_back({doc, answer["result"]["mutation_id"].GetString()});
    } else {
      const JsonValue& error = answer["error"];
      std::string reason = error.HasMember("data") && error["data"].HasMember("reason")
                               ? error["data"]["reason"].GetString()
                               : "code " + std::to_string(error["code"].GetInt());
      ++errors_[reason];
    }
  }
}

std::vector<AckedMutation> Workload::acked() const {
  std::lock_guard lock(mutex_);
  return acked_;
}

size_t Workload::acked_count() const {
  std::lock_guard lock(mutex_);
  return acked_.size();
}

std::map<std::string, int64_t> Workload::errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

}  // namespace syncd::chaos
