#pragma once
// syncd's settings: every key with its default, read from a JSON file (comments and
// trailing commas allowed). An unknown key, a wrong type or a value out of range is a
// ConfigError naming the key path and what was expected; nothing is half-applied.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncd {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CollectionPolicy {
  std::string strategy;        // server_wins | client_wins | merge | manual
  std::string merge_tiebreak;  // local | remote
};

// One entry of ipc.grants: a uid or a gid (the other -1) and the collections it may read
// and write ("*": every collection).
struct IpcGrant {
  int64_t uid = -1;
  int64_t gid = -1;
  std::vector<std::string> read;
  std::vector<std::string> write;
};

struct Config {
  std::string state_dir = "./.syncd";
  std::string socket;  // empty: <state_dir>/syncd.sock
  // The remote backend: `remote` is its URL, or an object {"url": ..., "protocol": ...}.
  std::string remote = "http://127.0.0.1:8787";
  std::string remote_protocol = "v1";
  // Credentials may go over plain http:// to a host outside loopback (a warning at start).
  bool allow_insecure_http = false;
  std::string log_level = "info";   // debug | info | warning | error
  std::string log_format = "text";  // text | json

  struct Ipc {
    int64_t max_frame_bytes = 1 << 20;
    int64_t max_output_bytes = 4 << 20;         // unsent answers and notifications per client
    int64_t max_total_output_bytes = 64 << 20;  // the same for all clients together
    int64_t max_batch = 10000;                  // requests in one JSON-RPC batch
    int64_t max_clients = 1024;
    int64_t max_clients_per_uid = 64;             // root and syncd's own uid: only max_clients
    int64_t max_subscriptions = 64;               // per connection
    int64_t max_output_bytes_per_uid = 16 << 20;  // all connections of one uid together
    std::vector<int64_t> allowed_uids;            // empty: any peer that can open the socket
    std::vector<int64_t> allowed_gids;
    // Empty: every client allowed on the socket may read and write every collection.
    std::vector<IpcGrant> grants;
  } ipc;

  struct Store {
    int64_t max_document_bytes = 512 << 10;
    // Deepest nesting of arrays and objects in a document from a client or the server.
    int64_t max_document_depth = 64;
    std::string synchronous = "full";  // full | normal
  } store;

  struct Sync {
    int64_t batch_size = 500;
    int64_t batch_bytes = 4 << 20;
    int64_t max_inflight = 8;
    int64_t pull_interval_s = 60;
    int64_t pull_limit = 500;
    // Which way each collection syncs: both | push | pull | local.
    std::string default_direction = "both";
    std::map<std::string, std::string> collections;  // name -> direction
  } sync;

  struct Backoff {
    int64_t initial_ms = 1000;
    double factor = 2.0;
    int64_t max_ms = 60000;
    int64_t max_retry_after_s = 3600;  // a server's Retry-After is capped here
  } backoff;

  struct Breaker {
    int64_t failure_threshold = 5;
    int64_t cooldown_ms = 30000;
  } breaker;

  struct Http {
    int64_t connect_timeout_ms = 5000;
    int64_t timeout_ms = 30000;
    int64_t low_speed_time_s = 20;
    int64_t max_response_bytes = 64 << 20;
  } http;

  // How https is checked. Verification is always on unless insecure_skip_verify.
  struct Tls {
    std::string ca_file;      // empty: the system's CA bundle; set: only this CA file
    std::string client_cert;  // mutual TLS, with client_key (mode 0600 or stricter)
    std::string client_key;
    std::vector<std::string> pinned_pubkeys;  // "sha256//<base64>", any one must match
    bool insecure_skip_verify = false;        // development only: warned at every start
  } tls;

  // Credentials for the remote. Each secret comes from its *_file (mode 0600 or
  // stricter, config/secret_file.h), from $CREDENTIALS_DIRECTORY/auth.NAME (systemd's
  // LoadCredential=), or, with a warning at every start, inline in the config file.
  struct Auth {
    std::string mode;   // none | bearer | oauth2 | basic; "": from the keys that are set
    std::string token;  // bearer (access) token
    std::string token_file;
    std::string token_url;  // OAuth 2.0 token endpoint (RFC 6749)
    std::string refresh_token;
    std::string refresh_token_file;
    std::string client_id;
    std::string client_secret;  // with client_id: the client-credentials grant
    std::string client_secret_file;
    std::string username;  // HTTP basic auth (CouchDB), with the password from:
    std::string password_file;
    std::string password;  // not a key: read by load_secrets
    // Not a key: the secrets the config file itself holds ("auth.token", ...).
    std::vector<std::string> inline_secrets;
  } auth;

  struct MetricsEndpoint {
    std::string listen;  // "" (off) or a loopback ADDRESS:PORT serving GET /metrics
  } metrics;
  struct Conflicts {
    std::string strategy = "merge";
    std::string merge_tiebreak = "local";
    std::map<std::string, CollectionPolicy> collections;  // per-collection overrides
  } conflicts;

  std::string socket_path() const { return socket.empty() ? state_dir + "/syncd.sock" : socket; }
};

// Parses a config text; `source` names it in messages (a file path).
Config parse_config(std::string_view text, std::string_view source);
Config load_config_file(const std::string& path);
// Checks the relations between keys (called by parse_config, and after flag overrides).
void validate_config(const Config& config);
// Refuses credentials over plain http:// to a host outside loopback unless
// remote.allow_insecure_http (validate_config, and load_secrets once the secrets from
// files and systemd credentials are known).
void check_credentials_transport(const Config& config);
// Why no credential may be sent to the remote (the text check_credentials_transport
// throws), whatever the config holds: also for those syncctl auth installs at run time.
std::optional<std::string> credentials_transport_refusal(const Config& config);

// Every key with its effective value as JSON text, in a stable order: the dump of
// --check-config and the base of SIGHUP's "what changed" log.
std::vector<std::pair<std::string, std::string>> flatten_config(const Config& config);
// Keys whose values are secrets: never shown, only "(set)" or "(changed)".
bool is_secret_key(const std::string& key);

// The config sends credentials to the remote. With the secrets read (load_secrets), the
// systemd credentials count too.
bool has_credentials(const Config& config);

// What a start must warn about in this config: settings that weaken security, inline
// secrets (after load_secrets). Each line names the key.
std::vector<std::string> config_warnings(const Config& config);

// "key: old -> new" for each key whose value differs.
std::vector<std::string> describe_changes(const Config& before, const Config& after);

}  // namespace syncd
