#include "sync/sync_engine.h"

#include <algorithm>
#include <limits>
#include <map>

#include "queue/local_writes.h"
#include "sync/retry_after.h"
#include "sync/server_text.h"
#include "util/json.h"

namespace syncd {
namespace {

bool retryable_status(int status) {
  return status == 408 || status == 425 || status == 429 || status >= 500;
}

// A 4xx that refuses what the request carries (so a mutation in it), not the endpoint
// or the credentials: the batch is halved to find that mutation. A 3xx, 404, 405, 407,
// 410 or any status outside 200-599 says the remote URL or a proxy is wrong, and every
// mutation would be refused alike: those are retried, never dead letters.
bool refuses_content(int status) {
  if (status < 400 || status > 499 || retryable_status(status)) return false;
  return status != 401 && status != 403 && status != 404 && status != 405 && status != 407 &&
         status != 410;
}

// "HTTP 302 (a redirect to ...)": a server's answer as status and last_error show it.
std::string describe_answer(const HttpResponse& r) {
  std::string text = "HTTP " + std::to_string(r.status);
  if (r.status >= 300 && r.status <= 399) {
    const std::string location = r.header("location");
    text += " (a redirect" + (location.empty() ? "" : " to " + server_text(location, 200)) +
            "; syncd does not follow redirects: set remote to the server's own URL)";
  } else if (r.status == 404 || r.status == 405 || r.status == 410) {
    text += " (no protocol v1 endpoint there: check remote)";
  }
  if (!r.body.empty()) text += ": " + server_text(r.body);
  return text;
}

// A token goes into an Authorization header and the token file: visible ASCII only
// (RFC 6750's b64token is narrower still), so it cannot end the header early.
bool is_token(const JsonValue& v) {
  constexpr size_t kMaxTokenBytes = 16 << 10;
  if (!v.IsString() || v.GetStringLength() == 0 || v.GetStringLength() > kMaxTokenBytes) {
    return false;
  }
  for (const char* c = v.GetString(); c != v.GetString() + v.GetStringLength(); ++c) {
    if (*c < 0x21 || *c > 0x7e) return false;
  }
  return true;
}

// Why a token answer (an object with a string access_token) cannot be used, or "".
std::string check_token_answer(const JsonValue& doc) {
  if (!is_token(doc["access_token"])) {
    return "the answer's access_token is not 1 to 16384 bytes of visible ASCII";
  }
  auto refresh = doc.FindMember("refresh_token");
  if (refresh != doc.MemberEnd() && !is_token(refresh->value)) {
    return "the answer's refresh_token is not 1 to 16384 bytes of visible ASCII";
  }
  return "";
}

std::string url_encode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

const char* to_string(Connectivity c) {
  switch (c) {
    case Connectivity::online:
      return "online";
    case Connectivity::degraded:
      return "degraded";
    case Connectivity::offline:
      return "offline";
  }
  return "?";
}

SyncEngine::SyncEngine(uv_loop_t* loop, Database& db, DocumentStore& documents,
                       MutationQueue& queue, HttpTransport& http, const Clock& clock,
                       Random& random, Uuid7Generator& ids, SyncSettings settings,
                       std::string client_id, ChangeSink on_remote_changes)
    : loop_(loop),
      db_(db),
      documents_(documents),
      queue_(queue),
      meta_(db),
      resolutions_(db),
      http_(http),
      clock_(clock),
      ids_(ids),
      settings_(std::move(settings)),
      client_id_(std::move(client_id)),
      on_remote_changes_(std::move(on_remote_changes)),
      backoff_(settings_.backoff, random),
      breaker_(settings_.breaker_threshold, settings_.breaker_cooldown_ms, clock),
      events_(
          http, clock, backoff_, [this] { hint(); },
          [this](const std::string& error) {
            if (stopped_) return;
            if (!error.empty()) note_error(error);
            hint();  // whatever changed while the stream was down is caught by a pull
          }) {
  token_ = settings_.token;
  if (!token_.empty() || !settings_.token_url.empty()) auth_ = "ok";
  if (!settings_.token_file.empty()) token_store_.emplace(settings_.token_file);
  configured_fingerprint_ = fingerprint(settings_.refresh_token);
  load_tokens();
}

void SyncEngine::load_tokens() {
  const std::string& configured = configured_fingerprint_;
  std::optional<Tokens> stored;
  try {
    if (token_store_) stored = token_store_->load();
    // An older syncd kept a rotated refresh token in the database: it moves to the file
    // (or, without one, to memory) and leaves the database, its freed bytes zeroed.
    if (auto legacy = meta_.get("refresh_token")) {
      if (!stored) stored = Tokens{"", *legacy, configured};
      if (token_store_) token_store_->save(*stored);
      Statement mode(db_, "PRAGMA secure_delete");
      const std::string before = mode.step() ? mode.column_text(0) : "0";
      mode.reset();
      db_.exec("PRAGMA secure_delete = ON");
      {
        Transaction tx(db_);
        meta_.erase("refresh_token");
        tx.commit();
      }
      db_.exec(("PRAGMA secure_delete = " + before).c_str());
    }
  } catch (const std::exception& e) {
    note_error(std::string("tokens: ") + e.what());
  }
  // Tokens issued under another auth.refresh_token than the configured one are stale:
  // the operator changed it.
  if (!stored || stored->configured != configured) return;
  if (!stored->refresh_token.empty()) settings_.refresh_token = stored->refresh_token;
  if (!stored->access_token.empty()) token_ = stored->access_token;
}

void SyncEngine::store_tokens() {
  if (!token_store_) return;
  try {
    token_store_->save(Tokens{token_, settings_.refresh_token, configured_fingerprint_});
  } catch (const std::exception& e) {
    note_error("the refreshed tokens are kept in memory only: " + std::string(e.what()));
  }
}

void SyncEngine::start() {
  uv_timer_init(loop_, &tick_timer_);
  tick_timer_.data = this;
  schedule_tick(0);
}

void SyncEngine::stop(std::function<void()> done) {
  stopped_ = true;
  http_.cancel_all();
  uv_timer_stop(&tick_timer_);
  auto* callback = new std::function<void()>(std::move(done));
  tick_timer_.data = callback;
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_timer_), [](uv_handle_t* h) {
    auto* cb = static_cast<std::function<void()>*>(h->data);
    if (*cb) (*cb)();
    delete cb;
  });
}

void SyncEngine::schedule_tick(int64_t delay_ms) {
  if (stopped_) return;
  uv_timer_start(
      &tick_timer_, [](uv_timer_t* t) { static_cast<SyncEngine*>(t->data)->tick(); },
      static_cast<uint64_t>(std::max<int64_t>(delay_ms, 0)), 0);
}

void SyncEngine::kick() {
  if (stopped_ || connectivity_ == Connectivity::offline) return;
  // Writes arrive in bursts of small commits: waiting a few milliseconds lets one push
  // carry many of them instead of a lease and a request per commit.
  constexpr uint64_t kGatherMs = 5;
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&tick_timer_)) ||
      uv_timer_get_due_in(&tick_timer_) > kGatherMs) {
    schedule_tick(kGatherMs);
  }
}

void SyncEngine::sync_now() {
  if (stopped_) return;
  wait_until_ms_ = 0;
  pull_wanted_ = true;
  try {
    Transaction tx(db_);
    queue_.make_due(clock_.now_ms());
    tx.commit();
  } catch (const SqliteError& e) {
    note_error(e.what());
  }
  schedule_tick(0);
}

void SyncEngine::network_changed() {
  if (stopped_ || connectivity_ == Connectivity::online) return;
  wait_until_ms_ = 0;
  schedule_tick(0);
}

SyncStatus SyncEngine::status() const {
  SyncStatus s;
  s.connectivity = connectivity_;
  s.breaker = breaker_.state();
  s.auth = auth_;
  s.last_push_ms = last_push_ms_;
  s.last_pull_ms = last_pull_ms_;
  const int64_t now = clock_.monotonic_ms();
  if (wait_until_ms_ > now) s.next_retry_ms = clock_.now_ms() + (wait_until_ms_ - now);
  s.last_error = last_error_;
  s.last_error_at_ms = last_error_at_ms_;
  return s;
}

void SyncEngine::note_error(const std::string& error) {
  last_error_ = error;
  last_error_at_ms_ = clock_.now_ms();
}

HttpRequest SyncEngine::request(const std::string& method, const std::string& path,
                                std::string body) {
  HttpRequest r;
  r.method = method;
  r.url = settings_.remote + path;
  r.body = std::move(body);
  if (method == "POST") r.headers.push_back("Content-Type: application/json");
  if (!token_.empty()) r.headers.push_back("Authorization: Bearer " + token_);
  return r;
}

void SyncEngine::tick() {
  if (stopped_) return;
  const int64_t now = clock_.monotonic_ms();
  if (connectivity_ == Connectivity::offline) {
    if (probe_in_flight_) return;
    if (now >= wait_until_ms_) {
      probe();
    } else {
      schedule_tick(wait_until_ms_ - now);
    }
    return;
  }
  if (!events_.is_open() && now >= events_.reopen_at_ms()) {
    events_.open(request("GET", "/v1/events", ""));
  }
  if (!stranded_.empty()) return_stranded();
  if (now >= wait_until_ms_) replay();
  const bool hint_due = hint_waiting_ && now >= hint_not_before_ms_;
  if (pushes_in_flight_ == 0 && !pull_in_flight_ && now >= wait_until_ms_ &&
      (pull_wanted_ || hint_due || now >= next_pull_ms_)) {
    pull();
  }
  // The next wake-up: a retry time, a hint's turn or the periodic pull. Answers of
  // requests in flight call tick() themselves.
  int64_t next = std::numeric_limits<int64_t>::max();
  if (wait_until_ms_ > now) next = wait_until_ms_;
  if (!pull_in_flight_ && pushes_in_flight_ == 0) {
    next = std::min(next, next_pull_ms_);
    if (hint_waiting_) next = std::min(next, hint_not_before_ms_);
  }
  if (!events_.is_open()) next = std::min(next, std::max(events_.reopen_at_ms(), now + 1));
  if (next != std::numeric_limits<int64_t>::max()) schedule_tick(std::max<int64_t>(next - now, 1));
}

void SyncEngine::probe() {
  probe_in_flight_ = true;
  http_.send(request("GET", "/v1/health", ""), [this](HttpResponse r) {
    probe_in_flight_ = false;
    if (stopped_) return;
    if (r.status == 200) {
      connectivity_ = Connectivity::online;
      failures_ = 0;
      wait_until_ms_ = 0;
      pull_wanted_ = true;
      tick();
      return;
    }
    ++failures_;
    int64_t delay = backoff_.delay_ms(static_cast<int>(failures_));
    wait_until_ms_ = clock_.monotonic_ms() + delay;
    note_error(r.transport_failed() ? r.error : "health check answered " + describe_answer(r));
    schedule_tick(delay);
  });
}

void SyncEngine::hint() {
  // One hint waits at most: a flood of them is one pull (and hint_not_before_ms_ spaces
  // hints that keep finding nothing).
  hint_waiting_ = true;
  schedule_tick(0);
}

void SyncEngine::replay() {
  while (pushes_in_flight_ < settings_.max_inflight && breaker_.would_allow()) {
    const int64_t limit = batch_limit_ > 0 ? batch_limit_ : settings_.batch_size;
    std::vector<Mutation> batch;
    try {
      // Retry times are stored in wall-clock ms but the engine wakes on the monotonic
      // clock: the two may round a millisecond apart, and a lease that just missed its
      // mutations would leave them to the next periodic pull.
      constexpr int64_t kClockSlackMs = 10;
      batch = queue_.lease(clock_.now_ms() + kClockSlackMs, static_cast<size_t>(limit),
                           static_cast<size_t>(settings_.batch_bytes));
    } catch (const SqliteError& e) {
      note_error(e.what());
      return;
    }
    if (batch.empty()) return;
    breaker_.allow_request();
    send_push(std::move(batch));
  }
}

void SyncEngine::send_push(std::vector<Mutation> batch) {
  ++pushes_in_flight_;
  std::string body = build_push_body(client_id_, batch);
  http_.send(request("POST", "/v1/push", std::move(body)),
             [this, batch = std::move(batch), token = token_generation_](HttpResponse r) mutable {
               on_push_answer(std::move(batch), std::move(r), token);
             });
}

bool SyncEngine::refresh_token_after_401() {
  if (settings_.token_url.empty() || refreshed_since_success_) return false;
  if (refresh_in_flight_) return true;
  refresh_in_flight_ = true;
  refreshed_since_success_ = true;
  auto form = [](const std::string& s) { return url_encode(s); };
  HttpRequest r;
  r.method = "POST";
  r.url = settings_.token_url;
  r.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
  r.body = "grant_type=refresh_token&refresh_token=" + form(settings_.refresh_token);
  if (!settings_.oauth_client_id.empty()) r.body += "&client_id=" + form(settings_.oauth_client_id);
  if (!settings_.oauth_client_secret.empty()) {
    r.body += "&client_secret=" + form(settings_.oauth_client_secret);
  }
  http_.send(std::move(r), [this](HttpResponse response) {
    refresh_in_flight_ = false;
    if (stopped_) return;
    JsonDocument doc;
    std::string error;
    if (response.transport_failed()) {
      error = response.error;
    } else if (response.status != 200) {
      error = describe_answer(response);
    } else if (parse_json(response.body, doc) || !doc.IsObject() ||
               !doc.HasMember("access_token") || !doc["access_token"].IsString()) {
      error = "the answer has no access_token";
    } else {
      error = check_token_answer(doc);
    }
    if (!error.empty()) {
      auth_ = "failed";
      ++failures_;
      const int64_t delay = backoff_.delay_ms(static_cast<int>(failures_));
      wait_until_ms_ = clock_.monotonic_ms() + delay;
      refreshed_since_success_ = false;  // the next 401, after the backoff, tries again
      note_error("token refresh at " + settings_.token_url + " failed: " + error);
      schedule_tick(delay);
      return;
    }
    token_ = doc["access_token"].GetString();
    ++token_generation_;
    auth_ = "ok";
    if (doc.HasMember("refresh_token") && doc["refresh_token"].IsString()) {
      settings_.refresh_token = doc["refresh_token"].GetString();
    }
    store_tokens();
    // Retry at once with the new token (the event stream too).
    events_.allow_reopen_now();
    sync_now();
  });
  return true;
}

std::optional<int64_t> SyncEngine::retry_after(const HttpResponse& r, std::string& error) const {
  const std::string header = r.header("retry-after");
  if (header.empty()) return std::nullopt;
  std::optional<int64_t> wait = parse_retry_after_ms(header, clock_.now_ms());
  if (wait && *wait > backoff_.max_retry_after_ms()) {
    error += "; Retry-After of " + std::to_string(*wait / 1000) + " s capped at " +
             std::to_string(backoff_.max_retry_after_ms() / 1000) +
             " s (backoff.max_retry_after_s)";
  }
  return wait;
}

void SyncEngine::request_succeeded() {
  refreshed_since_success_ = false;
  if (auth_ == "failed") auth_ = "ok";
  failures_ = 0;
  breaker_.record_success();
  connectivity_ = Connectivity::online;
}

void SyncEngine::push_failed(const std::vector<Mutation>& batch, const std::string& error,
                             std::optional<int64_t> retry_after_ms, Connectivity now_state) {
  ++failures_;
  breaker_.record_failure();
  const int64_t delay = backoff_.delay_ms(static_cast<int>(failures_), retry_after_ms);
  wait_until_ms_ = std::max(wait_until_ms_, clock_.monotonic_ms() + delay);
  const int64_t retry_at = clock_.now_ms() + delay;
  try {
    Transaction tx(db_);
    for (const Mutation& m : batch) queue_.fail(m.id, retry_at, error);
    tx.commit();
  } catch (const SqliteError& e) {
    strand(batch);
    note_error(e.what());
  }
  connectivity_ = now_state;
  note_error(error);
}

void SyncEngine::strand(const std::vector<Mutation>& batch) {
  for (const Mutation& m : batch) stranded_.push_back(m.id);
}

void SyncEngine::return_stranded() {
  try {
    Transaction tx(db_);
    for (const std::string& id : stranded_)
      queue_.fail(id, clock_.now_ms(), "its result could not be stored");
    tx.commit();
    stranded_.clear();
  } catch (const SqliteError& e) {
    note_error("returning mutations whose results could not be stored: " + std::string(e.what()));
  }
}

void SyncEngine::on_push_answer(std::vector<Mutation> batch, HttpResponse r, uint64_t token_used) {
  --pushes_in_flight_;
  if (stopped_) return;
  if (r.transport_failed()) {
    // Only a connection that could not be made means offline (and health probes); a
    // server that answers badly is reachable, and is retried with backoff.
    push_failed(batch, "push failed: " + r.error, std::nullopt,
                r.connect_failed ? Connectivity::offline : Connectivity::degraded);
  } else if (r.status == 200) {
    std::vector<PushResult> results;
    std::vector<const PushResult*> matched;
    std::optional<std::string> error = parse_push_response(r.body, results);
    if (!error) error = match_results(batch, results, matched);
    if (error) {
      // Nothing of an answer of the wrong shape is applied: the batch is sent again
      // with the same ids after the backoff, and the server's dedupe answers it.
      push_failed(batch, "invalid push answer: " + *error, std::nullopt, Connectivity::degraded);
    } else {
      request_succeeded();
      // Keep the server busy: the next batch leaves before this one's results are stored
      // (its documents are still inflight, so the lease skips them: order holds).
      if (clock_.monotonic_ms() >= wait_until_ms_) replay();
      apply_results(batch, matched);
      last_push_ms_ = clock_.now_ms();
      pull_wanted_ = true;  // pull once the replay has drained (pushes in flight reach 0)
      if (batch_limit_ > 0) {
        batch_limit_ *= 2;
        if (batch_limit_ >= settings_.batch_size) batch_limit_ = 0;
      }
    }
  } else if (retryable_status(r.status)) {
    std::string error = "push answered " + describe_answer(r);
    const std::optional<int64_t> wait = retry_after(r, error);
    push_failed(batch, error, wait, Connectivity::degraded);
  } else if (r.status == 401 && (token_used != token_generation_ || refresh_token_after_401())) {
    // Sent with a token since replaced, or a refresh has started: back to pending, due
    // now, resent with the new token.
    try {
      Transaction tx(db_);
      for (const Mutation& m : batch)
        queue_.fail(m.id, clock_.now_ms(), "HTTP 401: refreshing the token");
      tx.commit();
    } catch (const SqliteError& e) {
      strand(batch);
      note_error(e.what());
    }
    if (refresh_in_flight_) wait_until_ms_ = std::numeric_limits<int64_t>::max() / 2;
  } else if (r.status == 401 || r.status == 403) {
    auth_ = "failed";
    refreshed_since_success_ = false;  // refresh again on the next 401, after the backoff
    push_failed(batch, "push answered HTTP " + std::to_string(r.status) + " (check auth.token)",
                std::nullopt, Connectivity::degraded);
  } else if (!refuses_content(r.status)) {
    push_failed(batch, "push answered " + describe_answer(r), std::nullopt, Connectivity::degraded);
  } else {
    // The server refuses the request itself: find the mutation it refuses by halving
    // the batch; a batch of one is that mutation, which becomes a dead letter.
    request_succeeded();
    const std::string error = describe_answer(r);
    std::vector<RemoteChange> changes;
    try {
      Transaction tx(db_);
      if (batch.size() == 1) {
        dead_letter(documents_, queue_, batch.front(), error, clock_.now_ms(), changes);
      } else {
        batch_limit_ = static_cast<int64_t>((batch.size() + 1) / 2);
        for (const Mutation& m : batch)
          queue_.fail(m.id, clock_.now_ms(), "server refused its batch: " + error);
      }
      tx.commit();
    } catch (const SqliteError& e) {
      strand(batch);
      note_error(e.what());
      changes.clear();
    }
    note_error("push refused: " + error);
    if (!changes.empty()) on_remote_changes_(std::move(changes));
  }
  tick();
}

void SyncEngine::apply_results(const std::vector<Mutation>& batch,
                               const std::vector<const PushResult*>& results) {
  std::vector<RemoteChange> changes;
  std::vector<MutationQueue::Applied> applied;
  const int64_t now = clock_.now_ms();
  try {
    Transaction tx(db_);
    for (size_t i = 0; i < batch.size(); ++i) {
      const Mutation& m = batch[i];
      const PushResult& r = *results[i];
      switch (r.kind) {
        case PushResult::Kind::applied: {
          std::optional<std::string> before;
          if (m.op == MutationOp::patch) {  // only a patch needs the state it applies to
            auto state = documents_.server_state(m.collection, m.doc_id);
            if (state) before = state->data;
          }
          documents_.set_server_state(m.collection, m.doc_id, apply_mutation(before, m), r.version,
                                      now);
          applied.push_back({m.seq, m.collection, m.doc_id, r.version});
          break;
        }
        case PushResult::Kind::rejected:
          dead_letter(documents_, queue_, m, r.error, now, changes);
          break;
        case PushResult::Kind::conflict:
          apply_conflict(m, r, changes);
          break;
      }
    }
    queue_.ack_applied(applied);
    tx.commit();
  } catch (const SqliteError& e) {
    // Nothing of it was stored: sent again with the same ids, the server's dedupe answers.
    strand(batch);
    note_error(std::string("storing push results failed: ") + e.what());
    return;
  }
  if (!changes.empty()) on_remote_changes_(std::move(changes));
}

void SyncEngine::apply_conflict(const Mutation& m, const PushResult& r,
                                std::vector<RemoteChange>& changes) {
  const int64_t now = clock_.now_ms();
  std::optional<StoredDocument> doc = documents_.find(m.collection, m.doc_id);
  Conflict conflict;
  if (doc && m.base_version && doc->server_version == m.base_version && !doc->server_deleted) {
    conflict.base_data = doc->server_data;
  }
  conflict.remote_data = r.current_data;
  conflict.remote_version = r.current_version;
  if (r.current_version) {
    documents_.set_server_state(m.collection, m.doc_id, r.current_data, *r.current_version, now);
  }
  const ConflictPolicy& policy = settings_.conflicts.for_collection(m.collection);
  ConflictDecision d = resolve_conflict(policy, m, conflict);
  Resolution record;
  record.mutation_id = m.id;
  record.collection = m.collection;
  record.doc_id = m.doc_id;
  record.strategy = to_string(policy.strategy);
  record.local_data = d.local_data;
  record.remote_data = r.current_data;
  record.remote_version = r.current_version;
  record.result_data = d.result_data;
  record.outcome = d.outcome;
  record.resolved_at_ms = now;
  switch (d.action) {
    case ConflictDecision::Action::drop:
      queue_.ack(m.id);
      break;
    case ConflictDecision::Action::repush: {
      Mutation fresh = m;
      fresh.id = ids_.next();  // a new id: the old one already has its answer on the server
      fresh.op = d.op;
      fresh.payload = d.payload;
      fresh.base_version = d.base_version;
      queue_.replace(m.id, fresh);
      break;
    }
    case ConflictDecision::Action::keep:
      queue_.mark_conflict(m.id, "conflict with server version " +
                                     r.current_version.value_or("(none)") +
                                     "; resolve with syncctl resolve");
      break;
  }
  resolutions_.record(record);
  if (d.action != ConflictDecision::Action::keep) {
    auto view = rebuild_local_view(documents_, queue_, m.collection, m.doc_id, now);
    changes.push_back({m.collection, m.doc_id, view});
  }
}

void SyncEngine::pull() {
  pull_in_flight_ = true;
  std::string cursor;
  try {
    cursor = meta_.get("pull_cursor").value_or("0");
  } catch (const SqliteError& e) {
    note_error(e.what());
  }
  if (!round_open_) {
    round_open_ = true;
    round_by_hint_ = hint_waiting_ && !pull_wanted_ && clock_.monotonic_ms() < next_pull_ms_;
    round_cursor_ = cursor;
  }
  pull_wanted_ = false;
  hint_waiting_ = false;  // this pull covers every hint so far
  cursor_sent_ = cursor;
  http_.send(
      request("GET",
              "/v1/pull?cursor=" + url_encode(cursor) +
                  "&limit=" + std::to_string(settings_.pull_limit),
              ""),
      [this, token = token_generation_](HttpResponse r) { on_pull_answer(std::move(r), token); });
}

void SyncEngine::on_pull_answer(HttpResponse r, uint64_t token_used) {
  pull_in_flight_ = false;
  if (stopped_) return;
  PullPage page;
  std::optional<std::string> error;
  if (r.transport_failed()) {
    error = "pull failed: " + r.error;
  } else if (r.status == 401 && (token_used != token_generation_ || refresh_token_after_401())) {
    pull_wanted_ = true;
    if (!refresh_in_flight_) tick();
    return;  // pulled again with the new token
  } else if (r.status != 200) {
    if (r.status == 401 || r.status == 403) auth_ = "failed";
    error = "pull answered " + describe_answer(r);
  } else if ((error = parse_pull_response(r.body, page, settings_.max_document_depth))) {
    error = "invalid pull answer: " + *error;
  } else if (page.has_more && page.cursor == cursor_sent_) {
    // Paging that does not move would ask for the same page for ever.
    error = "invalid pull answer: has_more is true but the cursor did not move (\"" +
            server_text(page.cursor, 40) + "\")";
  } else if (page.has_more && page.changes.empty() && page.skipped.empty()) {
    error = "invalid pull answer: has_more is true but the page has no changes";
  } else {
    error = store_pulled(page);
  }
  if (error) {
    round_open_ = false;  // the round ends here; the next one starts from the stored cursor
    ++failures_;
    const std::optional<int64_t> wait =
        retryable_status(r.status) ? retry_after(r, *error) : std::nullopt;
    const int64_t delay = backoff_.delay_ms(static_cast<int>(failures_), wait);
    wait_until_ms_ = std::max(wait_until_ms_, clock_.monotonic_ms() + delay);
    pull_wanted_ = true;
    connectivity_ = r.connect_failed ? Connectivity::offline : Connectivity::degraded;
    note_error(*error);
    tick();
    return;
  }
  request_succeeded();
  if (!page.skipped.empty()) {
    const size_t more = page.skipped.size() - 1;
    note_error(page.skipped.front() +
               (more ? "; " + std::to_string(more) + " more changes of the page skipped" : ""));
  }
  if (page.has_more) {
    pull_wanted_ = true;
  } else {
    end_pull_round(page.cursor);
    last_pull_ms_ = clock_.now_ms();
    next_pull_ms_ = clock_.monotonic_ms() + settings_.pull_interval_ms;
  }
  tick();
}

std::optional<std::string> SyncEngine::store_pulled(const PullPage& page) {
  std::vector<RemoteChange> changes;
  const int64_t now = clock_.now_ms();
  try {
    Transaction tx(db_);
    for (const PullChange& c : page.changes) {
      std::optional<StoredDocument> doc = documents_.find(c.collection, c.doc_id);
      if (doc && doc->server_version && !version_newer(c.version, *doc->server_version)) {
        continue;  // we already know this version or a newer one (our own push)
      }
      documents_.set_server_state(c.collection, c.doc_id, c.data, c.version, now);
      std::optional<std::string> before = doc ? doc->local_data : std::nullopt;
      std::optional<std::string> view = c.data;
      if (doc && doc->pending) {
        // Rebase: the new server state with the pending mutations applied on top.
        view = rebuild_local_view(documents_, queue_, c.collection, c.doc_id, now);
      } else {
        documents_.set_local_view(c.collection, c.doc_id, view, now);
      }
      if (view != before) changes.push_back({c.collection, c.doc_id, view});
    }
    meta_.set("pull_cursor", page.cursor);
    tx.commit();
  } catch (const SqliteError& e) {
    return std::string("storing pulled changes failed: ") + e.what();
  }
  if (!changes.empty()) on_remote_changes_(std::move(changes));
  return std::nullopt;
}

void SyncEngine::end_pull_round(const std::string& cursor) {
  round_open_ = false;
  if (cursor != round_cursor_) {
    hint_misses_ = 0;
    hint_not_before_ms_ = 0;
    return;
  }
  if (!round_by_hint_) return;
  // A `changed` hint that finds nothing new once is a race with the pull after our own
  // push; in a row they are a server crying wolf, followed ever more slowly.
  ++hint_misses_;
  const int64_t wait = backoff_.ceiling_ms(static_cast<int>(hint_misses_));
  hint_not_before_ms_ = clock_.monotonic_ms() + wait;
  if (hint_misses_ >= 2) {
    note_error("event stream: " + std::to_string(hint_misses_) +
               " 'changed' hints in a row found nothing new to pull; the next is followed "
               "after " +
               std::to_string(wait) + " ms");
  }
}

std::optional<std::string> SyncEngine::resolve_manually(const std::string& mutation_id,
                                                        const std::string& take,
                                                        std::vector<RemoteChange>& changes) {
  {
    Transaction tx(db_);
    std::optional<Mutation> m = queue_.find(mutation_id);
    if (!m || m->state != MutationState::conflict) return "no conflict " + mutation_id;
    std::optional<StoredDocument> doc = documents_.find(m->collection, m->doc_id);
    Resolution record;
    record.mutation_id = m->id;
    record.collection = m->collection;
    record.doc_id = m->doc_id;
    record.strategy = "manual";
    record.local_data = apply_mutation(std::nullopt, *m);
    if (doc) {
      record.remote_version = doc->server_version;
      if (!doc->server_deleted) record.remote_data = doc->server_data;
    }
    record.outcome = "manual_resolved";
    record.resolved_at_ms = clock_.now_ms();
    if (take == "remote") {
      queue_.ack(m->id);
      record.result_data = record.remote_data;
    } else {
      Mutation fresh = *m;
      fresh.id = ids_.next();
      fresh.base_version = doc ? doc->server_version : std::nullopt;
      if (take != "local") {
        fresh.op = MutationOp::put;
        fresh.payload = take;
      }
      queue_.replace(m->id, fresh);
      record.result_data = apply_mutation(record.remote_data, fresh);
    }
    resolutions_.record(record);
    auto view = rebuild_local_view(documents_, queue_, m->collection, m->doc_id, clock_.now_ms());
    changes.push_back({m->collection, m->doc_id, view});
    tx.commit();
  }
  kick();
  return std::nullopt;
}

}  // namespace syncd
