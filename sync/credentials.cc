#include "sync/credentials.h"

#include "store/meta_store.h"
#include "sync/answer_text.h"
#include "sync/server_text.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/logger.h"
#include "util/url_encode.h"

namespace syncd {
namespace {

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

}  // namespace

std::optional<std::string> parse_token_answer(std::string_view body, TokenAnswer& out) {
  JsonDocument doc;
  if (parse_json(body, doc) || !doc.IsObject() || !doc.HasMember("access_token") ||
      !doc["access_token"].IsString()) {
    return "the answer has no access_token";
  }
  if (!is_token(doc["access_token"])) {
    return "the answer's access_token is not 1 to 16384 bytes of visible ASCII";
  }
  auto refresh = doc.FindMember("refresh_token");
  if (refresh != doc.MemberEnd() && !is_token(refresh->value)) {
    return "the answer's refresh_token is not 1 to 16384 bytes of visible ASCII";
  }
  out.access_token = doc["access_token"].GetString();
  out.refresh_token = refresh != doc.MemberEnd() ? refresh->value.GetString() : "";
  return std::nullopt;
}

Credentials::Credentials(HttpTransport& http, Database& db, CredentialSettings settings)
    : http_(http), settings_(std::move(settings)) {
  token_ = settings_.token;
  if (!token_.empty() || !settings_.token_url.empty() || !settings_.basic.empty()) {
    state_ = State::ok;
  }
  if (!settings_.token_file.empty()) token_store_.emplace(settings_.token_file);
  configured_fingerprint_ = fingerprint(settings_.refresh_token);
  load_tokens(db);
}

void Credentials::load_tokens(Database& db) {
  std::optional<Tokens> stored;
  try {
    if (token_store_) stored = token_store_->load();
    // An older syncd kept a rotated refresh token in the database: it moves to the file
    // (or, without one, to memory) and leaves the database, its freed bytes zeroed.
    MetaStore meta(db);
    if (auto legacy = meta.get("refresh_token")) {
      if (!stored) stored = Tokens{"", *legacy, configured_fingerprint_};
      if (token_store_) token_store_->save(*stored);
      Statement mode(db, "PRAGMA secure_delete");
      const std::string before = mode.step() ? mode.column_text(0) : "0";
      mode.reset();
      db.exec("PRAGMA secure_delete = ON");
      {
        Transaction tx(db);
        meta.erase("refresh_token");
        tx.commit();
      }
      db.exec(("PRAGMA secure_delete = " + before).c_str());
    }
  } catch (const std::exception& e) {
    error(std::string("tokens: ") + e.what());
  }
  // Tokens issued under another auth.refresh_token than the configured one are stale:
  // the operator changed it.
  if (!stored || stored->configured != configured_fingerprint_) return;
  if (!stored->refresh_token.empty()) settings_.refresh_token = stored->refresh_token;
  if (!stored->access_token.empty()) token_ = stored->access_token;
}

void Credentials::store_tokens() {
  if (!token_store_) return;
  try {
    token_store_->save(Tokens{token_, settings_.refresh_token, configured_fingerprint_});
  } catch (const std::exception& e) {
    error("the refreshed tokens are kept in memory only: " + std::string(e.what()));
  }
}

void Credentials::set_error_sink(ErrorSink on_error) {
  on_error_ = std::move(on_error);
  for (const std::string& e : early_errors_) on_error_(e);
  early_errors_.clear();
}

void Credentials::error(const std::string& text) {
  if (on_error_) {
    on_error_(text);
  } else {
    early_errors_.push_back(text);
  }
}

uint64_t Credentials::authorise(HttpRequest& request) const {
  if (!token_.empty()) {
    request.headers.push_back("Authorization: Bearer " + token_);
  } else if (!settings_.basic.empty()) {
    request.headers.push_back("Authorization: Basic " + base64_encode(settings_.basic));
  }
  return generation_;
}

Credentials::After401 Credentials::unauthorised(uint64_t generation, RefreshDone done) {
  if (generation != generation_) return After401::resend;
  if (refresh_in_flight_) {
    waiting_.push_back(std::move(done));
    return After401::wait_for_refresh;
  }
  if (settings_.token_url.empty() || refreshed_since_success_) return After401::give_up;
  waiting_.push_back(std::move(done));
  start_refresh();
  return After401::wait_for_refresh;
}

void Credentials::start_refresh() {
  refresh_in_flight_ = true;
  refreshed_since_success_ = true;
  HttpRequest r;
  r.method = "POST";
  r.url = settings_.token_url;
  r.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
  r.body = "grant_type=refresh_token&refresh_token=" + url_encode(settings_.refresh_token);
  if (!settings_.client_id.empty()) r.body += "&client_id=" + url_encode(settings_.client_id);
  if (!settings_.client_secret.empty()) {
    r.body += "&client_secret=" + url_encode(settings_.client_secret);
  }
  http_.send(std::move(r), [this](HttpResponse response) { refreshed(response); });
}

void Credentials::refreshed(const HttpResponse& response) {
  refresh_in_flight_ = false;
  std::optional<std::string> error;
  TokenAnswer answer;
  if (response.transport_failed()) {
    error = response.error;
  } else if (response.status != 200) {
    error = describe_answer(response, "auth.token_url",
                            "no token endpoint there: check auth.token_url");
  } else {
    error = parse_token_answer(response.body, answer);
  }
  if (error) {
    refreshed_since_success_ = false;  // the next 401, after the backoff, tries again
    error = "token refresh at " + url_without_user_info(settings_.token_url) + " failed: " + *error;
    become(State::failed, *error);
  } else {
    token_ = answer.access_token;
    ++generation_;
    become(State::ok, "");
    if (!answer.refresh_token.empty()) settings_.refresh_token = answer.refresh_token;
    store_tokens();
  }
  std::vector<RefreshDone> waiting;
  waiting.swap(waiting_);
  for (RefreshDone& done : waiting) {
    if (done) done(error);
  }
}

void Credentials::request_succeeded() {
  refreshed_since_success_ = false;
  if (state_ == State::failed) become(State::ok, "");
}

void Credentials::refused(const std::string& why) {
  become(State::failed, why);
  refreshed_since_success_ = false;  // refresh again on the next 401, after the backoff
}

void Credentials::become(State next, const std::string& why) {
  if (next == state_) return;
  const State before = state_;
  state_ = next;
  if (next == State::failed) {
    log_warning("sync: auth failed: " + why);
  } else if (before == State::failed) {
    log_info("sync: auth ok again");
  }
}

const char* Credentials::state() const {
  switch (state_) {
    case State::none:
      return "none";
    case State::ok:
      return "ok";
    case State::failed:
      return "failed";
  }
  return "?";
}

const char* Credentials::setting_names() const {
  if (token_.empty() && settings_.token_url.empty() && !settings_.basic.empty()) {
    return "auth.username and auth.password_file";
  }
  return "auth.token";
}

}  // namespace syncd
