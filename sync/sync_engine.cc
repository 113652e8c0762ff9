#include "sync/sync_engine.h"

#include <algorithm>
#include <limits>

#include "queue/local_writes.h"
#include "sync/server_text.h"
#include "util/logger.h"

namespace syncd {

SyncEngine::SyncEngine(uv_loop_t* loop, Database& db, DocumentStore& documents,
                       MutationQueue& queue, TableAccess& tables, Remote& remote,
                       const Clock& clock, Random& random, Uuid7Generator& ids,
                       SyncSettings settings, ChangeSink on_remote_changes)
    : loop_(loop),
      db_(db),
      documents_(documents),
      queue_(queue),
      tables_(tables),
      meta_(db),
      remote_(remote),
      protocol_(remote.protocol()),
      credentials_(remote.credentials()),
      clock_(clock),
      settings_(std::move(settings)),
      on_remote_changes_(std::move(on_remote_changes)),
      backoff_(settings_.backoff, random),
      breaker_(settings_.breaker_threshold, settings_.breaker_cooldown_ms, clock),
      conflicts_(db, documents, queue, ids, clock, settings_.conflicts, settings_.directions),
      events_(
          remote.http(), clock, backoff_, [this] { hint(); },
          [this](const std::string& error) {
            if (stopped_) return;
            if (!error.empty()) note_error(error);
            if (events_.unauthorised()) {
              // A refused stream gets the same refresh as a refused push or pull, and
              // opens again as soon as it has a new token (refreshed()).
              Answer refused;
              refused.kind = AnswerKind::unauthorised;
              refused.refresh_may_help = true;
              refused.credentials_generation = hints_generation_;
              refused.error = "event stream answered HTTP 401";
              if (handle_unauthorised(refused) && !credentials_.refreshing()) {
                events_.allow_reopen_now();
              }
            }
            hint();  // whatever changed while the stream was down is caught by a pull
          }) {
  credentials_.set_error_sink([this](const std::string& error) { note_error(error); });
}

void SyncEngine::start() {
  uv_timer_init(loop_, &tick_timer_);
  tick_timer_.data = this;
  uv_idle_init(loop_, &continue_idle_);
  continue_idle_.data = this;
  schedule_tick(0);
}

void SyncEngine::stop(std::function<void()> done) {
  stopped_ = true;
  remote_.cancel_all();
  uv_timer_stop(&tick_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&continue_idle_), nullptr);  // closes before the timer
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
  if (stopped_ || connectivity_.offline()) return;
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
    Transaction tx(db_, Durability::deferred);
    queue_.make_due(clock_.now_ms());
    tx.commit();
  } catch (const SqliteError& e) {
    note_error(e.what());
  }
  schedule_tick(0);
}

void SyncEngine::credentials_changed() {
  if (stopped_) return;
  failures_ = 0;
  events_.allow_reopen_now();
  sync_now();
}

void SyncEngine::network_changed() {
  if (stopped_ || connectivity_.state() == Connectivity::online) return;
  wait_until_ms_ = 0;
  schedule_tick(0);
}

SyncStatus SyncEngine::status() const {
  SyncStatus s;
  s.connectivity = connectivity_.state();
  s.connectivity_since_ms = connectivity_.since_ms();
  s.reachable_since_ms = connectivity_.reachable_since_ms();
  s.breaker = breaker_.state();
  s.auth = credentials_.state();
  s.last_push_ms = last_push_ms_;
  s.last_pull_ms = last_pull_ms_;
  const int64_t now = clock_.monotonic_ms();
  if (wait_until_ms_ > now) s.next_retry_ms = clock_.now_ms() + (wait_until_ms_ - now);
  s.last_error = last_error_;
  s.last_error_at_ms = last_error_at_ms_;
  s.last_contact_ms = last_contact_ms_;
  s.last_contact_sent_ms = last_contact_sent_ms_;
  s.clock_skew_ms = clock_skew_ms_;
  return s;
}

void SyncEngine::note_contact(const Answer& answer, int64_t sent_ms) {
  const int64_t now = clock_.now_ms();
  last_contact_ms_ = now;
  last_contact_sent_ms_ = std::max(last_contact_sent_ms_.value_or(sent_ms), sent_ms);
  if (answer.server_date_ms) {
    // The server wrote Date between our send and now, in whole seconds (rounded down): a
    // Date within that span is no skew; outside it, the distance to its nearer end.
    const int64_t date = *answer.server_date_ms;
    const int64_t earliest = sent_ms - 1000;
    clock_skew_ms_ = date < earliest ? date - earliest : date > now ? date - now : 0;
  }
}

namespace {

// A log line's fields for mutation `m`, then `more`.
LogFields mutation_fields(const Mutation& m, LogFields more) {
  LogFields fields = {{"mutation_id", m.id}, {"collection", m.collection}, {"doc_id", m.doc_id}};
  for (LogField& f : more) fields.push_back(std::move(f));
  return fields;
}

}  // namespace

void SyncEngine::note_error(const std::string& error) {
  last_error_ = error;
  last_error_at_ms_ = clock_.now_ms();
  if (auto line = error_log_.admit(error, clock_.monotonic_ms())) log_warning("sync: " + *line);
}

void SyncEngine::with_tables(std::function<void()> work) {
  tables_.when_cheap([alive = std::weak_ptr<bool>(alive_), work = std::move(work)] {
    if (!alive.expired()) work();
  });
}

void SyncEngine::tick() {
  // Called from the answers tick_now() works through: it goes on by itself after them.
  if (stopped_ || tick_waiting_ || in_tick_) return;
  tick_waiting_ = true;
  with_tables([this] {
    tick_waiting_ = false;
    tick_now();
  });
}

void SyncEngine::store_results_slice() {
  StoringResults& s = storing_.front();
  const size_t n = std::min(kResultsPerTurn, s.batch.size() - s.done);
  const auto from = static_cast<std::ptrdiff_t>(s.done);
  const auto to = static_cast<std::ptrdiff_t>(s.done + n);
  apply_results(std::vector<Mutation>(s.batch.begin() + from, s.batch.begin() + to),
                std::vector<PushResult>(s.results.begin() + from, s.results.begin() + to));
  s.done += n;
  if (s.done < s.batch.size()) return;
  storing_.pop_front();
  last_push_ms_ = clock_.now_ms();
  pull_wanted_ = true;  // pull once the replay has drained (pushes in flight reach 0)
}

void SyncEngine::start_continue_idle() {
  // The next answers or results in the next turn, after the clients' (an idle handle:
  // libuv 1.44 runs a timer started for 0 ms from a timer callback again at once).
  uv_idle_start(&continue_idle_, [](uv_idle_t* idle) {
    uv_idle_stop(idle);
    static_cast<SyncEngine*>(idle->data)->tick();
  });
}

void SyncEngine::tick_now() {
  if (stopped_) return;
  // Answers and slices of results until the turn's share is spent; the rest after the
  // clients' next turn (eight answers at once held the loop for 120 ms).
  const int64_t since = clock_.monotonic_ms();
  auto share_left = [&] { return clock_.monotonic_ms() - since < kEngineMsPerTurn; };
  in_tick_ = true;
  leases_left_ = 1;  // a lease of 500 took the loop 13 ms; eight in one turn, 100 ms
  while (!answers_.empty() && share_left()) {
    std::function<void()> answered = std::move(answers_.front());
    answers_.pop_front();
    answered();
    if (stopped_) return;
  }
  while (!storing_.empty() && share_left()) store_results_slice();
  in_tick_ = false;
  const int64_t now = clock_.monotonic_ms();
  // Refused credentials: nothing goes out (probes neither) until new ones are installed
  // (credentials_changed()); the answers above were still taken in.
  if (credentials_.halted()) {
    if (!answers_.empty() || !storing_.empty()) start_continue_idle();
    return;
  }
  if (connectivity_.offline()) {
    // Answers taken in while going offline are stored in the next turns, not after the
    // backoff: their mutations stay inflight until then.
    if (!answers_.empty() || !storing_.empty()) start_continue_idle();
    if (probe_in_flight_) return;
    if (now >= wait_until_ms_) {
      probe();
    } else {
      schedule_tick(wait_until_ms_ - now);
    }
    return;
  }
  // A token about to expire is renewed before requests that would be refused with it.
  // Nothing is sent meanwhile; a refresh that failed is tried again after the backoff.
  const std::optional<int64_t> refresh_due = credentials_.refresh_due_ms();
  if (awaiting_refresh_ || (refresh_due && now >= *refresh_due)) {
    if (!awaiting_refresh_ && now >= wait_until_ms_) {
      awaiting_refresh_ = true;
      credentials_.refresh_ahead(
          [this](std::optional<std::string> error) { refreshed(std::move(error)); });
    } else if (!awaiting_refresh_) {
      schedule_tick(wait_until_ms_ - now);
    }
    if (!answers_.empty() || !storing_.empty()) start_continue_idle();
    return;  // refreshed() goes on
  }
  if (!events_.is_open() && now >= events_.reopen_at_ms()) {
    if (auto stream = protocol_.change_hints()) {
      hints_generation_ = credentials_.generation();
      events_.open(std::move(*stream));
    }
  }
  if (!stranded_.empty()) return_stranded();
  if (may_push(now)) replay();
  const bool hint_due = hint_waiting_ && now >= hint_not_before_ms_;
  if (pushes_in_flight_ == 0 && storing_.empty() && answers_.empty() && !pull_in_flight_ &&
      now >= wait_until_ms_ && (pull_wanted_ || hint_due || now >= next_pull_ms_)) {
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
  if (refresh_due) next = std::min(next, std::max(*refresh_due, now + 1));
  const bool more_to_lease = leases_left_ == 0 && pushes_in_flight_ < settings_.max_inflight;
  if (!storing_.empty() || !answers_.empty() || more_to_lease) {
    start_continue_idle();
  } else if (next != std::numeric_limits<int64_t>::max()) {
    schedule_tick(std::max<int64_t>(next - now, 1));
  }
}

int64_t SyncEngine::back_off(std::string& error, std::optional<int64_t> retry_after_ms) {
  ++failures_;
  if (retry_after_ms && *retry_after_ms > backoff_.max_retry_after_ms()) {
    error += "; Retry-After of " + std::to_string(*retry_after_ms / 1000) + " s capped at " +
             std::to_string(backoff_.max_retry_after_ms() / 1000) +
             " s (backoff.max_retry_after_s)";
  }
  const int64_t delay = backoff_.delay_ms(static_cast<int>(failures_), retry_after_ms);
  wait_until_ms_ = std::max(wait_until_ms_, clock_.monotonic_ms() + delay);
  note_error(error);
  return delay;
}

void SyncEngine::request_succeeded() {
  credentials_.request_succeeded();
  failures_ = 0;
  const BreakerState before = breaker_.state();
  breaker_.record_success();
  if (before != BreakerState::closed) log_info("sync: circuit breaker closed");
  reached();
}

void SyncEngine::reached() {
  if (connectivity_.state() != Connectivity::online) {
    // The failures held back end with this: their count, before "online".
    for (const std::string& line : error_log_.flush(clock_.monotonic_ms())) {
      log_warning("sync: " + line);
    }
  }
  connectivity_.succeeded();
}

void SyncEngine::probe() {
  probe_in_flight_ = true;
  protocol_.health([this, sent_ms = clock_.now_ms()](Answer answer) {
    probe_in_flight_ = false;
    if (stopped_) return;
    note_contact(answer, sent_ms);
    if (answer.kind == AnswerKind::ok) {
      reached();
      failures_ = 0;
      wait_until_ms_ = 0;
      pull_wanted_ = true;
      tick();
      return;
    }
    // Offline until a probe answers as it should, whatever the failure was; refused
    // credentials show as `auth: failed` too.
    if (answer.kind == AnswerKind::unauthorised) credentials_.refused(answer.error);
    connectivity_.failed(true, answer.error);
    schedule_tick(back_off(answer.error, std::nullopt));
  });
}

void SyncEngine::hint() {
  // One hint waits at most: a flood of them is one pull (and hint_not_before_ms_ spaces
  // hints that keep finding nothing).
  hint_waiting_ = true;
  schedule_tick(0);
}

bool SyncEngine::may_push(int64_t now) const {
  return now >= wait_until_ms_ && (protocol_.versions_ordered() || !pull_in_flight_);
}

void SyncEngine::replay() {
  while (leases_left_ > 0 && pushes_in_flight_ < settings_.max_inflight && breaker_.would_allow()) {
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
    if (batch.empty()) {
      if (replaying_ && pushes_in_flight_ == 0 && storing_.empty() && answers_.empty()) {
        replaying_ = false;
        if (on_replay_drained_) on_replay_drained_();
      }
      return;
    }
    replaying_ = true;
    --leases_left_;
    breaker_.allow_request();
    send_push(std::move(batch));
  }
}

void SyncEngine::send_push(std::vector<Mutation> batch) {
  ++pushes_in_flight_;
  log_debug("sync: pushing " + std::to_string(batch.size()) + " mutations");
  if (protocol_.sends_whole_documents()) {
    // A batch has one mutation per document and none of them is in flight before it:
    // the server state is the one each patch was made on (or was rebased onto).
    try {
      for (Mutation& m : batch) {
        if (m.op != MutationOp::patch) continue;
        std::optional<std::string> before;
        if (auto state = documents_.server_state(m.collection, m.doc_id)) before = state->data;
        m.payload = apply_mutation(before, m);
        m.op = MutationOp::put;
      }
    } catch (const SqliteError& e) {
      // Without the server state a patch would go as a guess: the batch waits, as after
      // a failed push.
      --pushes_in_flight_;
      Answer failed;
      failed.kind = AnswerKind::retryable;
      failed.error = std::string("reading the server state for a push failed: ") + e.what();
      push_failed(batch, failed);
      return;
    }
  }
  auto owned = std::make_shared<std::vector<Mutation>>(std::move(batch));
  protocol_.push(*owned, [this, owned, sent = clock_.monotonic_ms(),
                          sent_ms = clock_.now_ms()](PushAnswer answer) {
    ++counters_.pushes[SyncCounters::outcome_of(answer)];
    counters_.push_seconds.observe(static_cast<double>(clock_.monotonic_ms() - sent) / 1000);
    on_push_answer(std::move(*owned), std::move(answer), sent_ms);
  });
}

bool SyncEngine::handle_unauthorised(const Answer& answer) {
  if (answer.refresh_may_help) {
    // One callback for the engine, however many of its requests wait for the refresh.
    Credentials::RefreshDone done;
    if (!awaiting_refresh_) {
      done = [this](std::optional<std::string> error) { refreshed(std::move(error)); };
    }
    switch (credentials_.unauthorised(answer.credentials_generation, std::move(done))) {
      case Credentials::After401::resend:
        return true;
      case Credentials::After401::wait_for_refresh:
        awaiting_refresh_ = true;
        wait_until_ms_ = std::numeric_limits<int64_t>::max() / 2;  // until it ends
        return true;
      case Credentials::After401::give_up:
        break;
    }
  }
  credentials_.refused(answer.error);
  return false;
}

void SyncEngine::refreshed(std::optional<std::string> error) {
  awaiting_refresh_ = false;
  if (stopped_) return;
  if (error && credentials_.halted()) {
    note_error(*error);  // no retry: credentials_installed() starts again
    return;
  }
  if (error) {
    wait_until_ms_ = 0;
    schedule_tick(back_off(*error, std::nullopt));
    return;
  }
  log_info("sync: credentials refreshed");
  // Retry at once with the new token (the change-hint stream too).
  events_.allow_reopen_now();
  sync_now();
}

void SyncEngine::return_to_pending(const std::vector<Mutation>& batch, int64_t retry_at_ms,
                                   const std::string& why) {
  try {
    Transaction tx(db_, Durability::deferred);
    for (const Mutation& m : batch) queue_.fail(m.id, retry_at_ms, why);
    tx.commit();
  } catch (const SqliteError& e) {
    strand(batch);
    note_error(e.what());
  }
}

void SyncEngine::push_failed(const std::vector<Mutation>& batch, const Answer& answer) {
  const BreakerState before = breaker_.state();
  breaker_.record_failure();
  if (before != BreakerState::open && breaker_.state() == BreakerState::open) {
    log_warning("sync: circuit breaker open after " + std::to_string(failures_ + 1) +
                " failed pushes in a row; one is let through after " +
                std::to_string(settings_.breaker_cooldown_ms) + " ms");
  }
  std::string error = answer.error;
  const int64_t delay = back_off(error, answer.retry_after_ms);
  return_to_pending(batch, clock_.now_ms() + delay, error);
  connectivity_.failed(answer.unreachable, error);
}

void SyncEngine::strand(const std::vector<Mutation>& batch) {
  for (const Mutation& m : batch) stranded_.push_back(m.id);
}

void SyncEngine::return_stranded() {
  try {
    Transaction tx(db_, Durability::deferred);
    for (const std::string& id : stranded_)
      queue_.fail(id, clock_.now_ms(), "its result could not be stored");
    tx.commit();
    stranded_.clear();
  } catch (const SqliteError& e) {
    note_error("returning mutations whose results could not be stored: " + std::string(e.what()));
  }
}

void SyncEngine::on_push_answer(std::vector<Mutation> batch, PushAnswer answer, int64_t sent_ms) {
  // In flight until tick_now() has taken it in: no pull starts before.
  answers_.push_back(
      [this, batch = std::move(batch), answer = std::move(answer), sent_ms]() mutable {
        // Noted with the state the answer leads to (status, doctor's freshness).
        note_contact(answer, sent_ms);
        push_answered(std::move(batch), std::move(answer));
      });
  schedule_tick(0);  // in the next turn's timers: several answers come in one of curl's
}

void SyncEngine::push_answered(std::vector<Mutation> batch, PushAnswer answer) {
  --pushes_in_flight_;
  if (stopped_) return;
  switch (answer.kind) {
    case AnswerKind::ok:
      request_succeeded();
      // Keep the server busy: the next batch leaves before this one's results are stored
      // (its documents are still inflight, so the lease skips them: order holds).
      if (may_push(clock_.monotonic_ms())) replay();
      storing_.push_back(StoringResults{std::move(batch), std::move(answer.results)});
      if (storing_.size() == 1) store_results_slice();
      if (batch_limit_ > 0) {
        batch_limit_ *= 2;
        if (batch_limit_ >= settings_.batch_size) batch_limit_ = 0;
      }
      break;
    case AnswerKind::retryable:
      push_failed(batch, answer);
      break;
    case AnswerKind::unauthorised:
      if (handle_unauthorised(answer)) {
        // Sent with a token since replaced, or a refresh has started: back to pending,
        // due now, sent again with the new token.
        return_to_pending(batch, clock_.now_ms(), "HTTP 401: refreshing the token");
      } else {
        push_failed(batch, answer);
      }
      break;
    case AnswerKind::rejected:
      isolate_refused(batch, answer.error);
      break;
  }
  tick();
}

void SyncEngine::isolate_refused(const std::vector<Mutation>& batch, const std::string& error) {
  request_succeeded();
  std::vector<RemoteChange> changes;
  bool stored = false;
  try {
    Transaction tx(db_, Durability::deferred);
    if (batch.size() == 1) {
      dead_letter(documents_, queue_, settings_.directions, batch.front(), error, clock_.now_ms(),
                  changes);
    } else {
      batch_limit_ = static_cast<int64_t>((batch.size() + 1) / 2);
      for (const Mutation& m : batch)
        queue_.fail(m.id, clock_.now_ms(), "server refused its batch: " + error);
    }
    tx.commit();
    stored = true;
  } catch (const SqliteError& e) {
    strand(batch);
    note_error(e.what());
    changes.clear();
  }
  note_error("push refused: " + error);
  if (batch.size() == 1 && stored) {
    ++counters_.dead_letters;
    const Mutation& m = batch.front();
    log_warning("sync: dead letter " + m.id + " (" + m.collection + "/" + m.doc_id +
                    "): the server refused it: " + error,
                mutation_fields(m, {{"reason", error}}));
  }
  if (!changes.empty()) on_remote_changes_(std::move(changes));
}

void SyncEngine::apply_results(const std::vector<Mutation>& batch,
                               const std::vector<PushResult>& results) {
  std::vector<RemoteChange> changes;
  std::vector<MutationQueue::Applied> applied;
  // Written once the results are stored: dead letters as warnings, conflict outcomes.
  struct LogLine {
    std::string message;
    LogFields fields;
  };
  struct Resolved {
    std::pair<std::string, std::string> strategy_outcome;
    LogLine line;
  };
  std::vector<LogLine> dead_letter_lines;
  std::vector<Resolved> resolutions;
  const int64_t now = clock_.now_ms();
  try {
    Transaction tx(db_, Durability::deferred);
    for (size_t i = 0; i < batch.size(); ++i) {
      const Mutation& m = batch[i];
      const PushResult& r = results[i];
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
          dead_letter(documents_, queue_, settings_.directions, m, r.error, now, changes);
          dead_letter_lines.push_back({"sync: dead letter " + m.id + " (" + m.collection + "/" +
                                           m.doc_id + "): the server rejected it: " + r.error,
                                       mutation_fields(m, {{"reason", r.error}})});
          break;
        case PushResult::Kind::conflict: {
          ConflictApplier::Applied a = conflicts_.apply(m, r, changes);
          LogFields fields = mutation_fields(m, {{"strategy", a.strategy}, {"outcome", a.outcome}});
          resolutions.push_back({{std::move(a.strategy), std::move(a.outcome)},
                                 {std::move(a.log_line), std::move(fields)}});
          break;
        }
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
  counters_.dead_letters += dead_letter_lines.size();
  for (const LogLine& line : dead_letter_lines) log_warning(line.message, line.fields);
  for (const Resolved& r : resolutions) {
    ++counters_.conflicts[r.strategy_outcome];
    log_info(r.line.message, r.line.fields);
  }
  if (!changes.empty()) on_remote_changes_(std::move(changes));
}

std::string SyncEngine::pull_cursor() {
  std::string cursor = protocol_.initial_cursor();
  try {
    const std::string scope = settings_.directions.pull_scope();
    const std::optional<std::string> before =
        scope == scope_stored_ ? scope_stored_ : meta_.get("pull_scope");
    if (before != scope) {
      // A cursor belongs to the collections it was issued for: one pulled now that was
      // not then has history before it, so the pull starts again from the beginning
      // (versions already known are passed over as they come).
      Transaction tx(db_, Durability::deferred);
      if (Directions::widens(before.value_or(""), scope)) {
        meta_.set("pull_cursor", cursor);
        log_info("sync: the collections pulled changed; pulling from the beginning");
      }
      meta_.set("pull_scope", scope);
      tx.commit();
    }
    scope_stored_ = scope;  // the scopes change at SIGHUP only: not read again until then
    cursor = meta_.get("pull_cursor").value_or(cursor);
  } catch (const SqliteError& e) {
    note_error(e.what());
  }
  return cursor;
}

void SyncEngine::pull() {
  pull_in_flight_ = true;
  std::vector<std::string> filter = settings_.directions.pull_filter();
  const std::string cursor = pull_cursor();
  if (!round_open_) {
    round_open_ = true;
    round_by_hint_ = hint_waiting_ && !pull_wanted_ && clock_.monotonic_ms() < next_pull_ms_;
    round_cursor_ = cursor;
  }
  pull_wanted_ = false;
  hint_waiting_ = false;  // this pull covers every hint so far
  cursor_sent_ = cursor;
  protocol_.pull(
      cursor, filter,
      [this, sent = clock_.monotonic_ms(), sent_ms = clock_.now_ms()](PullAnswer answer) {
        ++counters_.pulls[SyncCounters::outcome_of(answer)];
        counters_.pull_seconds.observe(static_cast<double>(clock_.monotonic_ms() - sent) / 1000);
        on_pull_answer(std::move(answer), sent_ms);
      });
}

void SyncEngine::on_pull_answer(PullAnswer answer, int64_t sent_ms) {
  answers_.push_back([this, answer = std::move(answer), sent_ms]() mutable {
    note_contact(answer, sent_ms);
    pull_answered(std::move(answer));
  });
  schedule_tick(0);
}

void SyncEngine::pull_answered(PullAnswer answer) {
  pull_in_flight_ = false;
  if (stopped_) return;
  const PullPage& page = answer.page;
  std::optional<std::string> error;
  if (answer.kind == AnswerKind::unauthorised) {
    if (handle_unauthorised(answer)) {
      pull_wanted_ = true;
      if (!credentials_.refreshing()) tick();
      return;  // pulled again with the new token
    }
    error = answer.error;
  } else if (answer.kind != AnswerKind::ok) {
    error = answer.error;
  } else if (page.has_more && page.cursor == cursor_sent_) {
    // Paging that does not move would ask for the same page for ever.
    error = "invalid pull answer: has_more is true but the cursor did not move (\"" +
            server_text(page.cursor, 40) + "\")";
  } else if (page.has_more && page.changes.empty() && page.skipped.empty() &&
             page.passed_over == 0) {
    error = "invalid pull answer: has_more is true but the page has no changes";
  } else {
    error = store_pulled(page);
  }
  if (error) {
    round_open_ = false;  // the round ends here; the next one starts from the stored cursor
    back_off(*error, answer.kind == AnswerKind::retryable ? answer.retry_after_ms : std::nullopt);
    pull_wanted_ = true;
    connectivity_.failed(answer.unreachable, *error);
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
    Transaction tx(db_, Durability::deferred);
    for (const PullChange& c : page.changes) {
      // A collection that does not pull (push or local) keeps its own state: the
      // remote's changes to it are passed over (the cursor still moves past them).
      if (!settings_.directions.pulls(c.collection)) continue;
      std::optional<StoredDocument> doc = documents_.find(c.collection, c.doc_id);
      if (doc && doc->server_version && !protocol_.version_newer(c.version, *doc->server_version)) {
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
  // A hint that finds nothing new once is a race with the pull after our own push; in a
  // row they are a server crying wolf, followed ever more slowly.
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
  std::optional<std::string> error = conflicts_.resolve_manually(mutation_id, take, changes);
  if (!error) kick();
  return error;
}

}  // namespace syncd
