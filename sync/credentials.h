#pragma once
// The remote's credentials: HTTP basic auth (a user and a password from a file), or a
// bearer token added to every request, got and renewed at the OAuth 2.0 token endpoint
// with the refresh_token grant (RFC 6749 section 6) or the client_credentials grant
// (section 4.4): ahead of the token's expiry (expires_in, or a JWT's exp claim) and when
// a request is answered 401. Single flight: every request waiting while a refresh runs
// waits for that refresh, and one run of 401s gets one refresh (a new token refused too
// is an auth failure until a request succeeds). Each new token bumps generation(), so a
// 401 for a request that carried an older one is answered by resending, not by another
// refresh. An endpoint that refuses the grant itself (invalid_grant, invalid_client)
// halts: nothing is sent until new credentials are installed (syncctl auth). Tokens
// live in memory and the token file (mode 0600), never in the database; a refresh token
// that an older syncd kept in the database moves to the file at construction.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite.h"
#include "sync/http_transport.h"
#include "sync/token_store.h"
#include "util/clock.h"

namespace syncd {

struct CredentialSettings {
  std::string token;          // bearer token; empty: none
  std::string token_url;      // OAuth token endpoint; empty: no refresh
  std::string refresh_token;  // as configured
  std::string token_file;     // empty: refreshed tokens in memory only
  std::string client_id;
  std::string client_secret;
  // HTTP basic auth (CouchDB): "user:password", sent when there is no bearer token.
  std::string basic;
};

// Why a token endpoint's answer cannot be used, or nullopt with the tokens it brings
// (`refresh_token` empty when the answer carries none).
struct TokenAnswer {
  std::string access_token;
  std::string refresh_token;
  int64_t expires_in_s = 0;  // 0: the answer does not say
};
std::optional<std::string> parse_token_answer(std::string_view body, TokenAnswer& out);

// A token or secret goes into an Authorization header, a form body and the token file:
// 1 to 16,384 bytes of visible ASCII (RFC 6750's b64token is narrower still), so it
// cannot end a header early.
bool is_token_text(std::string_view text);

class Credentials {
 public:
  using ErrorSink = std::function<void(const std::string& error)>;
  // Runs when the refresh a request waited for ended: nullopt when a new token is in use.
  using RefreshDone = std::function<void(std::optional<std::string> error)>;

  Credentials(HttpTransport& http, Database& db, const Clock& clock, CredentialSettings settings);
  Credentials(const Credentials&) = delete;
  Credentials& operator=(const Credentials&) = delete;

  // Where errors of the token file go (the engine's status); those found before are
  // delivered at once.
  void set_error_sink(ErrorSink on_error);

  // Adds the Authorization header (when there is a token); returns the token generation.
  uint64_t authorise(HttpRequest& request) const;
  uint64_t generation() const { return generation_; }

  enum class After401 {
    resend,            // a newer token is in use: send the request again now
    wait_for_refresh,  // `done` runs when the refresh ends
    give_up,           // no refresh configured, or this run of 401s had its refresh
  };
  // A request that carried token `generation` was answered 401.
  After401 unauthorised(uint64_t generation, RefreshDone done);
  bool refreshing() const { return refresh_in_flight_; }

  // When (monotonic ms) the access token should be renewed ahead of its expiry: a fifth
  // of its lifetime before it, at most a minute; now when a grant can get a token and
  // there is none. nullopt when nothing is planned (no token endpoint, no known expiry,
  // a refresh in flight, halted).
  std::optional<int64_t> refresh_due_ms() const;
  // Starts that refresh, or waits for the one in flight; `done` runs when it ends.
  void refresh_ahead(RefreshDone done);

  // The token endpoint refused the grant itself: nothing may be sent until install_*().
  bool halted() const { return state_ == State::halted; }
  // New credentials (syncctl auth set-token, login): they replace what was in use, clear
  // a halt, and are kept in the token file. The next request uses them.
  void install_access_token(std::string token);
  void install_refresh_token(std::string token);
  void install_client_secret(std::string client_id, std::string client_secret);
  bool can_grant() const { return !settings_.token_url.empty(); }
  bool has_client_id() const { return !settings_.client_id.empty(); }
  bool uses_basic() const { return !settings_.basic.empty(); }
  // Something would be sent: a token (configured, or from the token file), a refresh
  // token, a client secret or a password.
  bool holds_secret() const {
    return !token_.empty() || !settings_.refresh_token.empty() ||
           !settings_.client_secret.empty() || !settings_.basic.empty();
  }

  // A request succeeded: the credentials work, and a later 401 may refresh again.
  void request_succeeded();
  // The remote refused them for good (403, or a 401 given up on); `why` is logged.
  void refused(const std::string& why);
  const char* state() const;  // none, ok, failed, auth_failed (halted)
  // The config keys a refusal should send the user to: "auth.token", or
  // "auth.username and auth.password_file" for basic auth.
  const char* setting_names() const;

 private:
  void start_refresh();
  void refreshed(const HttpResponse& response);
  void load_tokens(Database& db);
  void store_tokens();
  // What every install_*() ends with.
  void installed();
  void tell_waiters(const std::optional<std::string>& error);
  void error(const std::string& text);
  enum class State { none, ok, failed, halted };
  // Auth failure and recovery are logged once each.
  void become(State next, const std::string& why);
  // A new access token is in use, expiring at `expires_at_wall_ms` (0: unknown).
  void use_token(std::string token, int64_t expires_at_wall_ms);

  HttpTransport& http_;
  const Clock& clock_;
  CredentialSettings settings_;
  ErrorSink on_error_;
  std::vector<std::string> early_errors_;  // before there was a sink
  std::optional<TokenStore> token_store_;
  std::string configured_fingerprint_;  // of the credentials as configured
  std::string legacy_fingerprint_;      // of auth.refresh_token alone (older token files)
  uint64_t installs_ = 0;               // install_*() calls: a refresh of older ones is void
  std::string token_;                   // the access token in use
  int64_t obtained_at_ms_ = 0;          // monotonic, when token_ came
  int64_t expires_at_ms_ = 0;           // monotonic; 0: unknown
  int64_t expires_at_wall_ms_ = 0;      // the same as Unix milliseconds, for the file
  uint64_t generation_ = 0;
  bool refreshed_since_success_ = false;
  bool installed_client_secret_ = false;  // by install_client_secret: kept in the token file
  bool refresh_in_flight_ = false;
  std::vector<RefreshDone> waiting_;  // for the refresh in flight
  State state_ = State::none;
};

}  // namespace syncd
