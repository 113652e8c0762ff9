#pragma once
// The remote's credentials: HTTP basic auth (a user and a password from a file), or a
// bearer token added to every request, renewed with the
// OAuth 2.0 refresh_token grant (RFC 6749 section 6) when a request is answered 401.
// Single flight: every request refused while a refresh runs waits for that refresh, and
// one run of 401s gets one refresh (a new token refused too is an auth failure until a
// request succeeds). Each new token bumps generation(), so a 401 for a request that
// carried an older one is answered by resending, not by another refresh. Rotated tokens
// live in the token file (mode 0600), never in the database; a refresh token that an
// older syncd kept in the database moves to the file at construction.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/sqlite.h"
#include "sync/http_transport.h"
#include "sync/token_store.h"

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
};
std::optional<std::string> parse_token_answer(std::string_view body, TokenAnswer& out);

class Credentials {
 public:
  using ErrorSink = std::function<void(const std::string& error)>;
  // Runs when the refresh a request waited for ended: nullopt when a new token is in use.
  using RefreshDone = std::function<void(std::optional<std::string> error)>;

  Credentials(HttpTransport& http, Database& db, CredentialSettings settings);
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

  // A request succeeded: the credentials work, and a later 401 may refresh again.
  void request_succeeded();
  // The remote refused them for good (403, or a 401 given up on); `why` is logged.
  void refused(const std::string& why);
  const char* state() const;  // none, ok, failed
  // The config keys a refusal should send the user to: "auth.token", or
  // "auth.username and auth.password_file" for basic auth.
  const char* setting_names() const;

 private:
  void start_refresh();
  void refreshed(const HttpResponse& response);
  void load_tokens(Database& db);
  void store_tokens();
  void error(const std::string& text);
  enum class State { none, ok, failed };
  // Auth failure and recovery are logged once each.
  void become(State next, const std::string& why);

  HttpTransport& http_;
  CredentialSettings settings_;
  ErrorSink on_error_;
  std::vector<std::string> early_errors_;  // before there was a sink
  std::optional<TokenStore> token_store_;
  std::string configured_fingerprint_;  // of auth.refresh_token as configured
  std::string token_;                   // the access token in use
  uint64_t generation_ = 0;
  bool refreshed_since_success_ = false;
  bool refresh_in_flight_ = false;
  std::vector<RefreshDone> waiting_;  // for the refresh in flight
  State state_ = State::none;
};

}  // namespace syncd
