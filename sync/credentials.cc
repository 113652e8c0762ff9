#include "sync/credentials.h"

#include <algorithm>

#include "store/meta_store.h"
#include "sync/answer_text.h"
#include "sync/jwt_expiry.h"
#include "sync/server_text.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/logger.h"
#include "util/url_encode.h"

namespace syncd {
namespace {

bool is_token(const JsonValue& v) {
  return v.IsString() && is_token_text(std::string_view(v.GetString(), v.GetStringLength()));
}

}  // namespace

bool is_token_text(std::string_view text) {
  constexpr size_t kMaxTokenBytes = 16 << 10;
  if (text.empty() || text.size() > kMaxTokenBytes) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

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
  // A lifetime outside a second to ten years is not one to plan by: ignored, the token
  // is then renewed when a request is refused.
  auto expires_in = doc.FindMember("expires_in");
  out.expires_in_s = 0;
  if (expires_in != doc.MemberEnd() && expires_in->value.IsNumber()) {
    const double s = expires_in->value.GetDouble();
    if (s >= 1 && s <= 10.0 * 365 * 86400) out.expires_in_s = static_cast<int64_t>(s);
  }
  return std::nullopt;
}

namespace {

// RFC 6749 section 5.2: the error codes that say the grant itself is refused, so asking
// again with the same credentials cannot help. The text names the code and the
// server's description.
std::optional<std::string> refused_grant(const HttpResponse& r) {
  if (r.status != 400 && r.status != 401) return std::nullopt;
  JsonDocument doc;
  if (parse_json(r.body, doc) || !doc.IsObject()) return std::nullopt;
  auto error = doc.FindMember("error");
  if (error == doc.MemberEnd() || !error->value.IsString()) return std::nullopt;
  const std::string code = error->value.GetString();
  if (code != "invalid_grant" && code != "invalid_client" && code != "unauthorized_client") {
    return std::nullopt;
  }
  std::string text = code;
  auto description = doc.FindMember("error_description");
  if (description != doc.MemberEnd() && description->value.IsString()) {
    text += " (" + server_text(description->value.GetString()) + ")";
  }
  return text;
}

}  // namespace

Credentials::Credentials(HttpTransport& http, Database& db, const Clock& clock,
                         CredentialSettings settings)
    : http_(http), clock_(clock), settings_(std::move(settings)) {
  use_token(settings_.token, 0);
  if (!token_.empty() || !settings_.token_url.empty() || !settings_.basic.empty()) {
    state_ = State::ok;
  }
  if (!settings_.token_file.empty()) token_store_.emplace(settings_.token_file);
  // Every configured secret counts: a token file made under others is stale (the
  // operator changed one). A file of an older syncd has the refresh token's alone.
  legacy_fingerprint_ = fingerprint(settings_.refresh_token);
  configured_fingerprint_ =
      fingerprint(settings_.token + '\n' + settings_.refresh_token + '\n' + settings_.client_id +
                  '\n' + settings_.client_secret + '\n' + settings_.basic);
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
      if (!stored) stored = Tokens{"", *legacy, configured_fingerprint_, 0, "", ""};
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
  // Tokens issued under other configured credentials are stale: the operator changed them.
  if (!stored || (stored->configured != configured_fingerprint_ &&
                  stored->configured != legacy_fingerprint_)) {
    return;
  }
  if (!stored->client_secret.empty()) {
    // Installed by `syncctl auth login`: the client_credentials grant, no refresh token
    // unless the endpoint gave one since.
    settings_.client_id = stored->client_id;
    settings_.client_secret = stored->client_secret;
    settings_.refresh_token = stored->refresh_token;
    installed_client_secret_ = true;
  } else if (!stored->refresh_token.empty()) {
    settings_.refresh_token = stored->refresh_token;
  }
  if (!stored->access_token.empty()) use_token(stored->access_token, stored->expires_at_ms);
}

void Credentials::use_token(std::string token, int64_t expires_at_wall_ms) {
  token_ = std::move(token);
  const bool from_jwt = expires_at_wall_ms == 0;
  if (from_jwt) {
    if (auto exp = jwt_expiry_s(token_)) expires_at_wall_ms = *exp * 1000;
  }
  obtained_at_ms_ = clock_.monotonic_ms();
  expires_at_wall_ms_ = token_.empty() ? 0 : expires_at_wall_ms;
  // A JWT whose exp is under a second away (past, or a clock far ahead of the server's)
  // is no expiry to plan by: renewing it would bring the same at once, in a loop. It is
  // renewed when a request is refused. (expires_in has the same floor.)
  if (from_jwt && expires_at_wall_ms_ != 0 && expires_at_wall_ms_ - clock_.now_ms() < 1000) {
    expires_at_wall_ms_ = 0;
  }
  expires_at_ms_ =
      expires_at_wall_ms_ == 0
          ? 0
          : obtained_at_ms_ + std::max<int64_t>(0, expires_at_wall_ms_ - clock_.now_ms());
}

std::optional<int64_t> Credentials::refresh_due_ms() const {
  if (settings_.token_url.empty() || refresh_in_flight_ || state_ == State::halted) {
    return std::nullopt;
  }
  if (token_.empty()) return clock_.monotonic_ms();
  if (expires_at_ms_ == 0) return std::nullopt;
  const int64_t lifetime = std::max<int64_t>(0, expires_at_ms_ - obtained_at_ms_);
  return expires_at_ms_ - std::min<int64_t>(60000, lifetime / 5);
}

void Credentials::refresh_ahead(RefreshDone done) {
  waiting_.push_back(std::move(done));
  if (!refresh_in_flight_) start_refresh();
}

void Credentials::install_access_token(std::string token) {
  use_token(std::move(token), 0);
  ++generation_;
  installed();
}

void Credentials::install_refresh_token(std::string token) {
  settings_.refresh_token = std::move(token);
  use_token("", 0);  // the next request first gets an access token with it
  installed();
}

void Credentials::install_client_secret(std::string client_id, std::string client_secret) {
  if (!client_id.empty()) settings_.client_id = std::move(client_id);
  settings_.client_secret = std::move(client_secret);
  settings_.refresh_token.clear();  // the client_credentials grant from now on
  use_token("", 0);
  installed_client_secret_ = true;
  installed();
}

void Credentials::installed() {
  ++installs_;  // an answer to a refresh in flight is for the old credentials
  refreshed_since_success_ = false;
  become(State::ok, "");
  store_tokens();
}

void Credentials::store_tokens() {
  if (!token_store_) return;
  try {
    Tokens tokens{token_, settings_.refresh_token, configured_fingerprint_, expires_at_wall_ms_, "",
                  ""};
    if (installed_client_secret_) {
      tokens.client_id = settings_.client_id;
      tokens.client_secret = settings_.client_secret;
    }
    token_store_->save(tokens);
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
  if (state_ == State::halted) return After401::give_up;
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
  // The refresh_token grant when there is a refresh token; the client_credentials grant
  // (RFC 6749 section 4.4) when there is none but a client secret.
  if (settings_.refresh_token.empty() && !settings_.client_secret.empty()) {
    r.body = "grant_type=client_credentials";
  } else {
    r.body = "grant_type=refresh_token&refresh_token=" + url_encode(settings_.refresh_token);
  }
  if (!settings_.client_id.empty()) r.body += "&client_id=" + url_encode(settings_.client_id);
  if (!settings_.client_secret.empty()) {
    r.body += "&client_secret=" + url_encode(settings_.client_secret);
  }
  http_.send(std::move(r), [this, installs = installs_](HttpResponse response) {
    if (installs != installs_) {
      // New credentials came while it ran: its answer, a token or a refusal, is for the
      // old ones. The waiters go on with the new ones (a refresh with them is due).
      refresh_in_flight_ = false;
      refreshed_since_success_ = false;
      tell_waiters(std::nullopt);
      return;
    }
    refreshed(response);
  });
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
  const std::string where = "token refresh at " + url_without_user_info(settings_.token_url);
  if (auto refused = refused_grant(response); error && refused) {
    // Asking again with the same grant cannot help: halted until a person acts.
    error = where + " refused the grant: " + *refused +
            "; nothing is sent until new credentials are installed (syncctl auth set-token, "
            "syncctl auth login)";
    become(State::halted, *error);
  } else if (error) {
    refreshed_since_success_ = false;  // the next 401, after the backoff, tries again
    error = where + " failed: " + *error;
    become(State::failed, *error);
  } else {
    const int64_t expires_at =
        answer.expires_in_s > 0 ? clock_.now_ms() + answer.expires_in_s * 1000 : 0;
    use_token(answer.access_token, expires_at);
    ++generation_;
    become(State::ok, "");
    if (!answer.refresh_token.empty()) settings_.refresh_token = answer.refresh_token;
    store_tokens();
  }
  tell_waiters(error);
}

void Credentials::tell_waiters(const std::optional<std::string>& error) {
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
  // A late refusal of a request sent before the halt does not end it.
  if (state_ == State::halted) return;
  become(State::failed, why);
  refreshed_since_success_ = false;  // refresh again on the next 401, after the backoff
}

void Credentials::become(State next, const std::string& why) {
  if (next == state_) return;
  const State before = state_;
  state_ = next;
  if (next == State::failed || next == State::halted) {
    log_warning("sync: auth failed: " + why);
  } else if (before == State::failed || before == State::halted) {
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
    case State::halted:
      return "auth_failed";
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
