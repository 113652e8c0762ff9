#include "sync/v1/v1_protocol.h"

#include "sync/http_answer.h"
#include "sync/server_text.h"
#include "sync/v1/bodies.h"
#include "util/url_encode.h"

namespace syncd {
Answer classify_v1(const HttpResponse& r, const std::string& what, int64_t now_ms) {
  static const StatusRules rules{{200}, "no protocol v1 endpoint there: check remote"};
  return classify_http(r, what, now_ms, rules);
}

V1Protocol::V1Protocol(HttpTransport& http, Credentials& credentials, const Clock& clock,
                       V1Settings settings)
    : http_(http), credentials_(credentials), clock_(clock), settings_(std::move(settings)) {}

HttpRequest V1Protocol::request(const std::string& method, const std::string& path,
                                std::string body, uint64_t& generation) const {
  HttpRequest r;
  r.method = method;
  r.url = settings_.url + path;
  r.body = std::move(body);
  if (method == "POST") r.headers.push_back("Content-Type: application/json");
  generation = credentials_.authorise(r);
  return r;
}

void V1Protocol::push(const std::vector<Mutation>& batch, PushDone done) {
  std::vector<std::string> ids;
  ids.reserve(batch.size());
  for (const Mutation& m : batch) ids.push_back(m.id);
  uint64_t generation = 0;
  HttpRequest r =
      request("POST", "/v1/push", build_push_body(settings_.client_id, batch), generation);
  http_.send(std::move(r), [this, ids = std::move(ids), generation,
                            done = std::move(done)](HttpResponse response) {
    PushAnswer answer;
    static_cast<Answer&>(answer) = classify_v1(response, "push", clock_.now_ms());
    answer.credentials_generation = generation;
    if (answer.kind == AnswerKind::ok) {
      std::optional<std::string> error =
          parse_push_response(response.body, answer.results, settings_.max_document_depth);
      if (!error) error = match_results(ids, answer.results);
      if (error) {
        // Nothing of an answer of the wrong shape is applied: the batch is sent again
        // with the same ids after the backoff, and the server's dedupe answers it.
        answer.kind = AnswerKind::retryable;
        answer.error = "invalid push answer: " + *error;
        answer.results.clear();
      }
    }
    done(std::move(answer));
  });
}

void V1Protocol::pull(const std::string& cursor, const std::vector<std::string>& collections,
                      PullDone done) {
  std::string path =
      "/v1/pull?cursor=" + url_encode(cursor) + "&limit=" + std::to_string(settings_.pull_limit);
  if (!collections.empty()) {
    std::string list;
    for (const std::string& c : collections) list += (list.empty() ? "" : ",") + url_encode(c);
    path += "&collections=" + list;
  }
  uint64_t generation = 0;
  HttpRequest r = request("GET", path, "", generation);
  http_.send(std::move(r), [this, generation, done = std::move(done)](HttpResponse response) {
    PullAnswer answer;
    static_cast<Answer&>(answer) = classify_v1(response, "pull", clock_.now_ms());
    answer.credentials_generation = generation;
    if (answer.kind == AnswerKind::rejected) {
      // A pull carries nothing to refuse: the URL or the server is wrong; retried.
      answer.kind = AnswerKind::retryable;
      answer.error = "pull answered " + answer.error;
    } else if (answer.kind == AnswerKind::ok) {
      if (auto error =
              parse_pull_response(response.body, answer.page, settings_.max_document_depth)) {
        answer.kind = AnswerKind::retryable;
        answer.error = "invalid pull answer: " + *error;
      }
    }
    done(std::move(answer));
  });
}

void V1Protocol::health(HealthDone done) {
  uint64_t generation = 0;
  HttpRequest r = request("GET", "/v1/health", "", generation);
  http_.send(std::move(r), [this, generation, done = std::move(done)](HttpResponse response) {
    Answer answer = classify_v1(response, "health check", clock_.now_ms());
    answer.credentials_generation = generation;
    if (response.transport_failed()) answer.error = response.error;  // "connect ... refused"
    if (answer.kind == AnswerKind::rejected) {
      answer.kind = AnswerKind::retryable;
      answer.error = "health check answered " + answer.error;
    }
    done(std::move(answer));
  });
}

std::optional<ChangeHintStream> V1Protocol::change_hints() {
  uint64_t generation = 0;
  return ChangeHintStream{request("GET", "/v1/events", "", generation), "changed"};
}

bool V1Protocol::version_newer(const std::string& a, const std::string& b) const {
  return syncd::version_newer(a, b);
}

}  // namespace syncd
