// Protocol v1's server in memory (docs/PROTOCOL.md), for the engine's shared suite.
#include <algorithm>
#include <cstdlib>

#include "queue/local_writes.h"
#include "tests/sync/fakes/fake_remote.h"
#include "util/json.h"

namespace syncd::testing {
namespace {

HttpResponse reply(int status, std::string body = "{}") {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string query_value(const std::string& url, const std::string& key) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return "";
  size_t at = url.find(key + "=", q);
  if (at == std::string::npos) return "";
  at += key.size() + 1;
  return url.substr(at, url.find('&', at) - at);
}

class FakeV1Server final : public FakeServer {
 public:
  std::string protocol() const override { return "v1"; }

  HttpResponse answer(const HttpRequest& r) override {
    if (r.url.find("/v1/health") != std::string::npos) return reply(200, R"({"ok":true})");
    const bool is_push = r.url.find("/v1/push") != std::string::npos;
    if (is_push) ++push_requests;
    if (busy_next > 0 || (is_push && busy_pushes_next > 0)) {
      if (busy_next > 0) {
        --busy_next;
      } else {
        --busy_pushes_next;
      }
      return reply(503, "busy");
    }
    if (is_push) return push(r.body);
    if (r.url.find("/v1/pull") != std::string::npos) return pull(r.url);
    return reply(404);
  }

  void remote_write(const std::string& collection, const std::string& id,
                    std::optional<std::string> data) override {
    docs[{collection, id}] = Doc{++version, std::move(data)};
  }

 private:
  HttpResponse push(const std::string& body) {
    JsonDocument doc;
    if (parse_json(body, doc) || !doc.IsObject() || !doc.HasMember("mutations")) {
      return reply(400, "not a push");
    }
    if (!refuse_requests_with.empty()) {
      for (const auto& m : doc["mutations"].GetArray()) {
        if (m["doc_id"].GetString() == refuse_requests_with) return reply(422, "refused");
      }
    }
    std::string results;
    for (const auto& m : doc["mutations"].GetArray()) {
      const std::string id = m["id"].GetString();
      std::string result;
      auto known = results_.find(id);
      if (known != results_.end()) {
        result = known->second;  // dedupe: the first answer again
      } else {
        result = apply(m);
        results_[id] = result;
      }
      results += (results.empty() ? "" : ",") + result;
    }
    if (lose_answer_of_next_push > 0) {
      --lose_answer_of_next_push;
      HttpResponse lost;
      lost.error = "connection reset after the request was sent";
      return lost;
    }
    return reply(200, R"({"results":[)" + results + "]}");
  }

  std::string apply(const JsonValue& m) {
    const std::string id = m["id"].GetString();
    const std::string collection = m["collection"].GetString();
    const std::string doc_id = m["doc_id"].GetString();
    const std::string op = m["op"].GetString();
    auto it = docs.find({collection, doc_id});
    const bool exists = it != docs.end() && it->second.data;
    const JsonValue& base = m["base_version"];
    const bool base_ok =
        base.IsNull() ? !exists
                      : it != docs.end() && std::to_string(it->second.version) == base.GetString();
    if (!base_ok) {
      std::string current = R"({"version":)" +
                            (it == docs.end() ? std::string("null")
                                              : "\"" + std::to_string(it->second.version) + "\"") +
                            R"(,"data":)" + (exists ? *it->second.data : "null") +
                            R"(,"deleted":)" + (exists ? "false" : "true") + "}";
      return R"({"id":")" + id + R"(","status":"conflict","current":)" + current + "}";
    }
    Mutation mutation;
    mutation.op = op == "put"     ? MutationOp::put
                  : op == "patch" ? MutationOp::patch
                                  : MutationOp::del;
    if (m.HasMember("data") && !m["data"].IsNull()) mutation.payload = to_json(m["data"]);
    if (mutation.op == MutationOp::patch && !exists) {
      return R"({"id":")" + id + R"(","status":"rejected","error":"patch of a missing document"})";
    }
    docs[{collection, doc_id}] =
        Doc{++version, apply_mutation(exists ? it->second.data : std::nullopt, mutation)};
    ++times_applied[id];
    applied_order.push_back(collection + "/" + doc_id);
    return R"({"id":")" + id + R"(","status":"applied","version":")" + std::to_string(version) +
           "\"}";
  }

  HttpResponse pull(const std::string& url) {
    const int64_t after = std::atoll(query_value(url, "cursor").c_str());
    int64_t limit = std::atoll(query_value(url, "limit").c_str());
    if (limit <= 0) limit = 500;
    std::vector<std::pair<int64_t, const std::pair<std::string, std::string>*>> newer;
    for (const auto& [key, d] : docs) {
      if (d.version > after) newer.push_back({d.version, &key});
    }
    std::sort(newer.begin(), newer.end());
    std::string changes;
    int64_t cursor = after;
    size_t n = 0;
    for (; n < newer.size() && static_cast<int64_t>(n) < limit; ++n) {
      const auto& key = *newer[n].second;
      const Doc& d = docs[key];
      changes += std::string(changes.empty() ? "" : ",") + R"({"collection":")" + key.first +
                 R"(","doc_id":")" + key.second + R"(","version":")" + std::to_string(d.version) +
                 R"(","data":)" + d.data.value_or("null") + R"(,"deleted":)" +
                 (d.data ? "false" : "true") + "}";
      cursor = d.version;
    }
    return reply(200, R"({"changes":[)" + changes + R"(],"cursor":")" + std::to_string(cursor) +
                          R"(","has_more":)" + (n < newer.size() ? "true" : "false") + "}");
  }

  std::map<std::string, std::string> results_;  // mutation id -> its first result
};

}  // namespace

std::unique_ptr<FakeServer> make_fake_v1_server() { return std::make_unique<FakeV1Server>(); }

}  // namespace syncd::testing
