#include "sync/v1/v1_protocol.h"

#include "sync/answer_text.h"
#include "sync/retry_after.h"
#include "sync/server_text.h"
#include "sync/v1/bodies.h"
#include "util/url_encode.h"

namespace syncd {
namespace {

bool retryable_status(int status) {
  return status == 408 || status == 425 || status == 429 || status >= 500;
}

// A 4xx that refuses what the request carries (so a mutation in it), not the endpoint
// or the credentials.
bool refuses_content(int status) {
  if (status < 400 || status > 499 || retryable_status(status)) return false;
  return status != 401 && status != 403 && status != 404 && status != 405 && status != 407 &&
         status != 410;
}

std::string describe_answer(const HttpResponse& r) {
  return syncd::describe_answer(r, "remote", "no protocol v1 endpoint there: check remote");
}

}  // namespace

Answer classify_v1(const HttpResponse& r, const std::string& what, int64_t now_ms) {
  Answer a;
  if (r.transport_failed()) {
    a.kind = AnswerKind::retryable;
    a.unreachable = r.connect_failed;
    a.error = what + " failed: " + r.error;
  } else if (r.status == 200) {
    a.kind = AnswerKind::ok;
  } else if (retryable_status(r.status)) {
    a.kind = AnswerKind::retryable;
    a.error = what + " answered " + describe_answer(r);
    const std::string header = r.header("retry-after");
    if (!header.empty()) a.retry_after_ms = parse_retry_after_ms(header, now_ms);
  } else if (r.status == 401 || r.status == 403) {
    a.kind = AnswerKind::unauthorised;
    a.refresh_may_help = r.status == 401;
    a.error = what == "push"
                  ? "push answered HTTP " + std::to_string(r.status) + " (check auth.token)"
                  : what + " answered " + describe_answer(r);
  } else if (!refuses_content(r.status)) {
    a.kind = AnswerKind::retryable;
    a.error = what + " answered " + describe_answer(r);
  } else {
    a.kind = AnswerKind::rejected;
    a.error = describe_answer(r);
  }
  return a;
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
