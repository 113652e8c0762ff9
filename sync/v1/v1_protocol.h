#pragma once
// Protocol v1 (docs/PROTOCOL.md) over HTTP: POST /v1/push, GET /v1/pull, GET /v1/health
// and the /v1/events stream, each request authorised by Credentials. Its status rules
// (classify_v1) are sync/http_answer.h's with 200 as success, when the body has the
// right shape.
#include <string>
#include <vector>

#include "sync/credentials.h"
#include "sync/http_transport.h"
#include "sync/remote_protocol.h"
#include "util/clock.h"

namespace syncd {

struct V1Settings {
  std::string url;  // base URL, no trailing slash
  std::string client_id;
  int64_t pull_limit = 500;
  unsigned max_document_depth = 64;  // a pulled document nested deeper is skipped
};

// How protocol v1 reads an HTTP answer to `what` ("push", "pull", "health check"): the
// kind, the error text and the Retry-After; the body's shape is the caller's to check.
Answer classify_v1(const HttpResponse& r, const std::string& what, int64_t now_ms);

class V1Protocol final : public RemoteProtocol {
 public:
  V1Protocol(HttpTransport& http, Credentials& credentials, const Clock& clock,
             V1Settings settings);

  void push(const std::vector<Mutation>& batch, PushDone done) override;
  void pull(const std::string& cursor, const std::vector<std::string>& collections,
            PullDone done) override;
  std::string initial_cursor() const override { return "0"; }
  void health(HealthDone done) override;
  std::optional<ChangeHintStream> change_hints() override;
  bool version_newer(const std::string& a, const std::string& b) const override;

 private:
  HttpRequest request(const std::string& method, const std::string& path, std::string body,
                      uint64_t& generation) const;

  HttpTransport& http_;
  Credentials& credentials_;
  const Clock& clock_;
  V1Settings settings_;
};

}  // namespace syncd
