#include "sync/couchdb/couchdb_protocol.h"

#include "sync/couchdb/bodies.h"
#include "sync/http_answer.h"
#include "util/json.h"

namespace syncd {
namespace {

const StatusRules kReadRules{{200}, "no CouchDB database there: create it, or check remote"};

// Two or more: one alone may be a validation function's throw({unauthorized: ...}), a
// refusal of that document.
bool every_document_unauthorized(const std::vector<PushResult>& results) {
  if (results.size() < 2) return false;
  for (const PushResult& r : results) {
    if (r.kind != PushResult::Kind::rejected || !r.error.starts_with("unauthorized")) return false;
  }
  return true;
}

}  // namespace

CouchDbProtocol::CouchDbProtocol(HttpTransport& http, Credentials& credentials, const Clock& clock,
                                 CouchDbSettings settings)
    : http_(http),
      credentials_(credentials),
      clock_(clock),
      settings_(std::move(settings)),
      push_rules_{{200, 201, 202}, kReadRules.missing, credentials.setting_names()},
      limit_(static_cast<size_t>(std::max<int64_t>(1, settings_.pull_limit))) {}

HttpRequest CouchDbProtocol::request(const std::string& method, const std::string& path,
                                     std::string body, uint64_t& generation) const {
  HttpRequest r;
  r.method = method;
  r.url = settings_.url + path;
  r.body = std::move(body);
  // PouchDB Server answers text/plain without it; the body is the same JSON.
  r.headers.push_back("Accept: application/json");
  if (method == "POST") r.headers.push_back("Content-Type: application/json");
  generation = credentials_.authorise(r);
  return r;
}

void CouchDbProtocol::push(const std::vector<Mutation>& batch, PushDone done) {
  // Mutations CouchDB could not take as they are become dead letters here, without a
  // request; the rest go in one _bulk_docs.
  std::vector<PushResult> refused(batch.size());
  std::vector<size_t> sent_at;  // place in `batch` of each mutation sent
  std::vector<Mutation> sent;
  std::vector<couchdb::MutationRevision> revisions;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Mutation& m = batch[i];
    couchdb::MutationRevision revision;
    std::optional<std::string> why = couchdb::revision_of(m, revision);
    if (!why && m.op == MutationOp::patch) why = "CouchDB takes no merge patch";
    if (!why && m.op == MutationOp::put && !m.payload) {
      // A patch made on a document the server has since deleted leaves nothing to send;
      // sending `{}` would bring the document back empty for everyone.
      why = "the document it patches was deleted on the server";
    }
    if (!why && m.op == MutationOp::put && m.payload) {
      if (auto key = couchdb::reserved_field(*m.payload)) {
        why = "its field " + json_quote(*key) + " is reserved by CouchDB (a top-level '_')";
      }
    }
    if (why) {
      refused[i] = PushResult{m.id,         PushResult::Kind::rejected,    "", std::nullopt,
                              std::nullopt, "not sent to CouchDB: " + *why};
      continue;
    }
    sent_at.push_back(i);
    sent.push_back(m);
    revisions.push_back(std::move(revision));
  }
  auto finish = [ids = batch.size(), refused = std::move(refused), sent_at](
                    PushAnswer answer, std::vector<PushResult> results) mutable {
    if (answer.kind != AnswerKind::ok) return answer;
    for (size_t j = 0; j < sent_at.size(); ++j) refused[sent_at[j]] = std::move(results[j]);
    answer.results = std::move(refused);
    answer.results.resize(ids);
    return answer;
  };
  if (sent.empty()) {
    done(finish(PushAnswer{}, {}));
    return;
  }
  uint64_t generation = 0;
  HttpRequest r =
      request("POST", "/_bulk_docs", couchdb::build_bulk_docs_body(sent, revisions), generation);
  http_.send(std::move(r), [this, generation, sent = std::move(sent),
                            revisions = std::move(revisions), finish = std::move(finish),
                            done = std::move(done)](HttpResponse response) mutable {
    PushAnswer answer;
    static_cast<Answer&>(answer) = classify_http(response, "push", clock_.now_ms(), push_rules_);
    answer.credentials_generation = generation;
    std::vector<PushResult> results;
    if (answer.kind == AnswerKind::ok) {
      if (auto error = couchdb::parse_bulk_docs_response(response.body, sent, revisions, results)) {
        // Nothing of it is applied: sent again after the backoff with the same
        // revisions, which CouchDB takes as a no-op where it has them.
        answer.kind = AnswerKind::retryable;
        answer.error = "invalid push answer: " + *error;
      } else if (every_document_unauthorized(results)) {
        // A database for members only answers a request without (the right)
        // credentials so: the credentials are refused, not the documents.
        answer.kind = AnswerKind::unauthorised;
        answer.error = "push: every document answered unauthorized (check " +
                       push_rules_.credentials + "): " + results.front().error;
        results.clear();
      }
    }
    done(finish(std::move(answer), std::move(results)));
  });
}

void CouchDbProtocol::pull(const std::string& cursor, const std::vector<std::string>&,
                           PullDone done) {
  // Every collection comes: the engine passes over those that do not pull (a selector
  // filter is PouchDB Server's weak point, docs/ADAPTERS.md).
  fetch_changes(cursor, std::move(done));
}

void CouchDbProtocol::fetch_changes(const std::string& cursor, PullDone done) {
  const std::string path =
      "/_changes?style=main_only&include_docs=true&limit=" + std::to_string(limit_) +
      "&since=" + couchdb::since_parameter(cursor);
  uint64_t generation = 0;
  HttpRequest r = request("GET", path, "", generation);
  http_.send(std::move(r), [this, cursor, generation,
                            done = std::move(done)](HttpResponse response) mutable {
    PullAnswer answer;
    static_cast<Answer&>(answer) = classify_http(response, "pull", clock_.now_ms(), kReadRules);
    answer.credentials_generation = generation;
    std::optional<std::string> unreadable;  // why this page could not be read whole
    if (response.too_large) unreadable = response.error;
    if (answer.kind == AnswerKind::rejected) {
      // A pull carries nothing to refuse: the URL or the server is wrong; retried.
      answer.kind = AnswerKind::retryable;
      answer.error = "pull answered " + answer.error;
    } else if (answer.kind == AnswerKind::ok) {
      if (auto error = couchdb::parse_changes_response(response.body, limit_,
                                                       settings_.max_document_depth, answer.page)) {
        answer.kind = AnswerKind::retryable;
        answer.error = "invalid pull answer: " + *error;
        answer.page = PullPage{};
        if (error->starts_with(couchdb::kNotJson)) unreadable = *error;
      } else if (limit_ < static_cast<size_t>(settings_.pull_limit)) {
        limit_ = std::min(static_cast<size_t>(settings_.pull_limit), limit_ * 2);
      }
    }
    if (unreadable) {
      // One document another writer stored (a lone surrogate, a number past a double,
      // megabytes) must not stop every pull: smaller pages until the one change that
      // cannot be read is alone, and that one is passed over, named.
      if (limit_ > 1) {
        limit_ = std::max<size_t>(1, limit_ / 8);
        fetch_changes(cursor, std::move(done));
      } else {
        skip_change(cursor, *unreadable, std::move(done));
      }
      return;
    }
    done(std::move(answer));
  });
}

void CouchDbProtocol::skip_change(const std::string& cursor, const std::string& why,
                                  PullDone done) {
  // The same change without its document: its id, revision and sequence.
  const std::string path =
      "/_changes?style=main_only&limit=1&since=" + couchdb::since_parameter(cursor);
  uint64_t generation = 0;
  HttpRequest r = request("GET", path, "", generation);
  http_.send(std::move(r), [this, generation, why, done = std::move(done)](HttpResponse response) {
    PullAnswer answer;
    static_cast<Answer&>(answer) = classify_http(response, "pull", clock_.now_ms(), kReadRules);
    answer.credentials_generation = generation;
    if (answer.kind == AnswerKind::rejected) answer.kind = AnswerKind::retryable;
    if (answer.kind == AnswerKind::ok) {
      if (auto error = couchdb::parse_change_to_skip(response.body, why, answer.page)) {
        answer.kind = AnswerKind::retryable;
        answer.error = "invalid pull answer: " + *error;
        answer.page = PullPage{};
      }
    }
    done(std::move(answer));
  });
}

void CouchDbProtocol::health(HealthDone done) {
  uint64_t generation = 0;
  HttpRequest r = request("GET", "", "", generation);
  http_.send(std::move(r), [this, generation, done = std::move(done)](HttpResponse response) {
    Answer answer = classify_http(response, "health check", clock_.now_ms(), kReadRules);
    answer.credentials_generation = generation;
    if (response.transport_failed()) answer.error = response.error;  // "connect ... refused"
    if (answer.kind == AnswerKind::rejected) {
      answer.kind = AnswerKind::retryable;
      answer.error = "health check answered " + answer.error;
    } else if (answer.kind == AnswerKind::ok) {
      JsonDocument doc;
      JsonParseOptions options;
      options.max_depth = 8;
      const bool database = !parse_json(response.body, doc, options) && doc.IsObject() &&
                            doc.HasMember("db_name") && doc["db_name"].IsString();
      if (!database) {
        answer.kind = AnswerKind::retryable;
        answer.error =
            "health check: the remote answered, but not as a CouchDB database (no db_name): "
            "remote must be the database's URL, http://host:5984/dbname";
      }
    }
    done(std::move(answer));
  });
}

std::optional<ChangeHintStream> CouchDbProtocol::change_hints() {
  // A heartbeat (an empty line) keeps a quiet feed open; each change is one line, and
  // the pull reads what it was.
  uint64_t generation = 0;
  const std::string path =
      "/_changes?feed=continuous&since=now&heartbeat=" + std::to_string(settings_.heartbeat_ms);
  HttpRequest r = request("GET", path, "", generation);
  // With `Accept: application/json` PouchDB Server holds the whole feed back, heartbeats
  // too, until it ends.
  std::erase(r.headers, std::string("Accept: application/json"));
  // A line per change of about 100-200 bytes: another writer's bulk write of thousands
  // of documents comes as that many lines at once, which is news, not a flood.
  constexpr int64_t kMaxFeedBytesPerSecond = 2 << 20;
  return ChangeHintStream{std::move(r), "", ChangeHintStream::Framing::json_lines,
                          kMaxFeedBytesPerSecond};
}

bool CouchDbProtocol::version_newer(const std::string& a, const std::string& b) const {
  return couchdb::revision_newer(a, b);
}

}  // namespace syncd
