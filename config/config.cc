#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "config/listen_address.h"
#include "util/json.h"
#include "util/url_encode.h"

namespace syncd {
namespace {

// The envelope around a document (an RPC frame, a pull page, a push answer) adds up to 4
// levels: the limit stays below kMaxJsonDepth with them.
constexpr int64_t kMaxDocumentDepth = 1000;
static_assert(kMaxDocumentDepth + 4 <= kMaxJsonDepth);

// One configurable key: how to read it from JSON and how to show its value.
struct Field {
  std::string path;
  std::function<std::optional<std::string>(const JsonValue&)> read;  // error without the path
  std::function<std::string()> show;
};

std::string got(const JsonValue& v) { return std::string(", got ") + json_type_name(v); }

Field int_field(std::string path, int64_t& ref, int64_t min, int64_t max) {
  return {std::move(path),
          [&ref, min, max](const JsonValue& v) -> std::optional<std::string> {
            if (!v.IsInt64()) return "expected an integer" + got(v);
            int64_t n = v.GetInt64();
            if (n < min || n > max) {
              return "expected an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got " + std::to_string(n);
            }
            ref = n;
            return std::nullopt;
          },
          [&ref] { return std::to_string(ref); }};
}

// The shortest text that reads back as `d` ("2", "1.2345678"): the dump and the "what
// changed" log show the value in force, where a stream's 6 digits showed another.
std::string shortest(double d) {
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof text, d);
  return std::string(text, ec == std::errc() ? end : text);
}

Field number_field(std::string path, double& ref, double min, double max) {
  return {std::move(path),
          [&ref, min, max](const JsonValue& v) -> std::optional<std::string> {
            if (!v.IsNumber()) return "expected a number" + got(v);
            double n = v.GetDouble();
            if (n < min || n > max) {
              return "expected a number from " + shortest(min) + " to " + shortest(max) + ", got " +
                     shortest(n);
            }
            ref = n;
            return std::nullopt;
          },
          [&ref] { return shortest(ref); }};
}

std::optional<std::string> check_choice(const std::string& value,
                                        const std::vector<std::string>& choices) {
  if (choices.empty()) return std::nullopt;
  for (const auto& c : choices) {
    if (c == value) return std::nullopt;
  }
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  return "expected one of " + list + ", got " + json_quote(value);
}

Field string_field(std::string path, std::string& ref, std::vector<std::string> choices = {}) {
  return {std::move(path),
          [&ref, choices](const JsonValue& v) -> std::optional<std::string> {
            if (!v.IsString()) return "expected a string" + got(v);
            std::string s(v.GetString(), v.GetStringLength());
            if (auto error = check_choice(s, choices)) return error;
            ref = std::move(s);
            return std::nullopt;
          },
          [&ref] { return json_quote(ref); }};
}

// A choice that may be left unset (""): dumped as null, and null reads back as unset.
Field optional_choice_field(std::string path, std::string& ref, std::vector<std::string> choices) {
  return {std::move(path),
          [&ref, choices](const JsonValue& v) -> std::optional<std::string> {
            if (v.IsNull()) {
              ref.clear();
              return std::nullopt;
            }
            if (!v.IsString()) return "expected a string or null" + got(v);
            std::string s(v.GetString(), v.GetStringLength());
            if (auto error = check_choice(s, choices)) return error;
            ref = std::move(s);
            return std::nullopt;
          },
          [&ref] { return ref.empty() ? std::string("null") : json_quote(ref); }};
}

Field listen_field(std::string path, std::string& ref) {
  return {std::move(path),
          [&ref](const JsonValue& v) -> std::optional<std::string> {
            if (!v.IsString()) return "expected a string" + got(v);
            std::string s(v.GetString(), v.GetStringLength());
            std::string why;
            if (!s.empty() && !parse_listen_address(s, &why)) {
              return why + ", got " + json_quote(s);
            }
            ref = std::move(s);
            return std::nullopt;
          },
          [&ref] { return json_quote(ref); }};
}

Field id_list_field(std::string path, std::vector<int64_t>& ref) {
  return {std::move(path),
          [&ref](const JsonValue& v) -> std::optional<std::string> {
            if (!v.IsArray()) return "expected an array of integers" + got(v);
            std::vector<int64_t> ids;
            for (const auto& item : v.GetArray()) {
              if (!item.IsInt64() || item.GetInt64() < 0 || item.GetInt64() > 0xffffffffLL) {
                return "expected an array of integers from 0 to 4294967295, found " +
                       std::string(item.IsNumber() ? to_json(item) : json_type_name(item));
              }
              ids.push_back(item.GetInt64());
            }
            ref = std::move(ids);
            return std::nullopt;
          },
          [&ref] {
            std::string out = "[";
            for (size_t i = 0; i < ref.size(); ++i) out += (i ? "," : "") + std::to_string(ref[i]);
            return out + "]";
          }};
}

const std::vector<std::string> kProtocols = {"v1", "couchdb"};

// `remote`: a URL (protocol v1), or {"url": URL, "protocol": NAME, "allow_insecure_http": B}.
Field remote_field(Config& c) {
  return {"remote",
          [&c](const JsonValue& v) -> std::optional<std::string> {
            if (v.IsString()) {
              c.remote.assign(v.GetString(), v.GetStringLength());
              c.remote_protocol = "v1";
              c.allow_insecure_http = false;
              return std::nullopt;
            }
            if (!v.IsObject()) return "expected a URL or an object {url, protocol}" + got(v);
            std::string new_url;
            std::string new_protocol = "v1";
            bool allow_insecure_http = false;
            for (const auto& member : v.GetObject()) {
              std::string k(member.name.GetString(), member.name.GetStringLength());
              if (k == "allow_insecure_http") {
                if (!member.value.IsBool())
                  return k + ": expected true or false" + got(member.value);
                allow_insecure_http = member.value.GetBool();
                continue;
              }
              if (k != "url" && k != "protocol") {
                return k + ": unknown key (known: url, protocol, allow_insecure_http)";
              }
              if (!member.value.IsString()) return k + ": expected a string" + got(member.value);
              std::string value(member.value.GetString(), member.value.GetStringLength());
              if (k == "protocol") {
                if (auto error = check_choice(value, kProtocols)) return k + ": " + *error;
                new_protocol = std::move(value);
              } else {
                new_url = std::move(value);
              }
            }
            if (new_url.empty()) return std::string("url: missing");
            c.remote = std::move(new_url);
            c.remote_protocol = std::move(new_protocol);
            c.allow_insecure_http = allow_insecure_http;
            return std::nullopt;
          },
          [&c] {
            return "{\"url\":" + json_quote(c.remote) +
                   ",\"protocol\":" + json_quote(c.remote_protocol) +
                   ",\"allow_insecure_http\":" + (c.allow_insecure_http ? "true" : "false") + "}";
          }};
}

Field bool_field(std::string path, bool& ref) {
  return {std::move(path),
          [&ref](const JsonValue& v) -> std::optional<std::string> {
            if (!v.IsBool()) return "expected true or false" + got(v);
            ref = v.GetBool();
            return std::nullopt;
          },
          [&ref] { return std::string(ref ? "true" : "false"); }};
}

// tls.pinned_pubkey: one pin or an array of them (several while a key is rotated), each
// libcurl's "sha256//" and the base64 of a SHA-256 digest.
Field pins_field(std::string path, std::vector<std::string>& ref) {
  return {std::move(path),
          [&ref](const JsonValue& v) -> std::optional<std::string> {
            std::vector<std::string> pins;
            auto take = [&pins](const JsonValue& item) -> std::optional<std::string> {
              if (!item.IsString()) return "expected \"sha256//<base64>\" strings" + got(item);
              std::string pin(item.GetString(), item.GetStringLength());
              const std::string prefix = "sha256//";
              const std::string digest = pin.substr(std::min(pin.size(), prefix.size()));
              const bool base64 =
                  digest.size() == 44 && digest.back() == '=' &&
                  std::all_of(digest.begin(), digest.end() - 1, [](unsigned char ch) {
                    return std::isalnum(ch) || ch == '+' || ch == '/';
                  });
              if (pin.rfind(prefix, 0) != 0 || !base64) {
                return "expected \"sha256//\" and the base64 of a SHA-256 digest (44 "
                       "characters), got " +
                       json_quote(pin);
              }
              pins.push_back(std::move(pin));
              return std::nullopt;
            };
            if (v.IsArray()) {
              for (const auto& item : v.GetArray()) {
                if (auto error = take(item)) return error;
              }
            } else if (auto error = take(v)) {
              return error;
            }
            ref = std::move(pins);
            return std::nullopt;
          },
          [&ref] {
            std::string out = "[";
            for (size_t i = 0; i < ref.size(); ++i) out += (i ? "," : "") + json_quote(ref[i]);
            return out + "]";
          }};
}

const std::vector<std::string> kDirections = {"both", "push", "pull", "local"};

// ipc.grants: [{"uid": 1001, "read": ["notes"], "write": ["drafts"]}, {"gid": 20, ...}].
Field grants_field(std::string path, std::vector<IpcGrant>& ref) {
  return {std::move(path),
          [&ref](const JsonValue& v) -> std::optional<std::string> {
            if (!v.IsArray()) return "expected an array of {uid or gid, read, write}" + got(v);
            std::vector<IpcGrant> grants;
            for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
              const JsonValue& item = v[i];
              const std::string where = "[" + std::to_string(i) + "]";
              if (!item.IsObject()) return where + ": expected an object" + got(item);
              IpcGrant grant;
              for (const auto& member : item.GetObject()) {
                const std::string k(member.name.GetString(), member.name.GetStringLength());
                const JsonValue& value = member.value;
                if (k == "uid" || k == "gid") {
                  if (!value.IsInt64() || value.GetInt64() < 0 || value.GetInt64() > 0xffffffffLL) {
                    return where + "." + k + ": expected an integer from 0 to 4294967295";
                  }
                  (k == "uid" ? grant.uid : grant.gid) = value.GetInt64();
                } else if (k == "read" || k == "write") {
                  if (!value.IsArray()) {
                    return where + "." + k + ": expected an array of collection names or \"*\"" +
                           got(value);
                  }
                  for (const auto& name : value.GetArray()) {
                    if (!name.IsString() || name.GetStringLength() == 0) {
                      return where + "." + k + ": expected collection names or \"*\"";
                    }
                    (k == "read" ? grant.read : grant.write).push_back(name.GetString());
                  }
                } else {
                  return where + "." + k + ": unknown key (known: uid, gid, read, write)";
                }
              }
              if ((grant.uid >= 0) == (grant.gid >= 0)) {
                return where + ": give one of uid and gid";
              }
              grants.push_back(std::move(grant));
            }
            ref = std::move(grants);
            return std::nullopt;
          },
          [&ref] {
            auto names = [](const std::vector<std::string>& list) {
              std::string out = "[";
              for (size_t i = 0; i < list.size(); ++i) out += (i ? "," : "") + json_quote(list[i]);
              return out + "]";
            };
            std::string out = "[";
            for (size_t i = 0; i < ref.size(); ++i) {
              const IpcGrant& g = ref[i];
              out += std::string(i ? "," : "") + "{" +
                     (g.uid >= 0 ? "\"uid\":" + std::to_string(g.uid)
                                 : "\"gid\":" + std::to_string(g.gid)) +
                     ",\"read\":" + names(g.read) + ",\"write\":" + names(g.write) + "}";
            }
            return out + "]";
          }};
}

// sync.collections: {"name": {"direction": "local"}, ...}.
Field directions_field(std::string path, std::map<std::string, std::string>& ref) {
  return {path,
          [&ref](const JsonValue& v) -> std::optional<std::string> {
            if (!v.IsObject()) return "expected an object of collection name -> settings" + got(v);
            std::map<std::string, std::string> out;
            for (const auto& member : v.GetObject()) {
              std::string name(member.name.GetString(), member.name.GetStringLength());
              std::string where = "\"" + name + "\"";
              if (!member.value.IsObject())
                return where + ": expected an object" + got(member.value);
              std::string direction = "both";
              for (const auto& key : member.value.GetObject()) {
                std::string k(key.name.GetString(), key.name.GetStringLength());
                if (k != "direction") return where + "." + k + ": unknown key (known: direction)";
                if (!key.value.IsString())
                  return where + "." + k + ": expected a string" + got(key.value);
                direction.assign(key.value.GetString(), key.value.GetStringLength());
                if (auto error = check_choice(direction, kDirections)) {
                  return where + "." + k + ": " + *error;
                }
              }
              out[name] = direction;
            }
            ref = std::move(out);
            return std::nullopt;
          },
          [&ref] {
            std::string out = "{";
            for (const auto& [name, direction] : ref) {
              out += (out.size() > 1 ? "," : "") + json_quote(name) +
                     ":{\"direction\":" + json_quote(direction) + "}";
            }
            return out + "}";
          }};
}

const std::vector<std::string> kStrategies = {"server_wins", "client_wins", "merge", "manual"};
const std::vector<std::string> kTiebreaks = {"local", "remote"};

Field collections_field(std::string path, std::map<std::string, CollectionPolicy>& ref,
                        const Config::Conflicts& defaults) {
  return {path,
          [&ref, &defaults, path](const JsonValue& v) -> std::optional<std::string> {
            if (!v.IsObject()) return "expected an object of collection name -> policy" + got(v);
            std::map<std::string, CollectionPolicy> out;
            for (const auto& member : v.GetObject()) {
              std::string name(member.name.GetString(), member.name.GetStringLength());
              std::string where = "\"" + name + "\"";
              if (!member.value.IsObject()) {
                return where + ": expected an object" + got(member.value);
              }
              CollectionPolicy policy{defaults.strategy, defaults.merge_tiebreak};
              for (const auto& key : member.value.GetObject()) {
                std::string k(key.name.GetString(), key.name.GetStringLength());
                std::string* target = k == "strategy"         ? &policy.strategy
                                      : k == "merge_tiebreak" ? &policy.merge_tiebreak
                                                              : nullptr;
                if (!target) {
                  return where + "." + k + ": unknown key (known: strategy, merge_tiebreak)";
                }
                if (!key.value.IsString())
                  return where + "." + k + ": expected a string" + got(key.value);
                std::string s = key.value.GetString();
                if (auto error = check_choice(s, k == "strategy" ? kStrategies : kTiebreaks)) {
                  return where + "." + k + ": " + *error;
                }
                *target = s;
              }
              out[name] = policy;
            }
            ref = std::move(out);
            return std::nullopt;
          },
          [&ref] {
            std::string out = "{";
            bool first = true;
            for (const auto& [name, p] : ref) {
              out += (first ? "" : ",") + json_quote(name) +
                     ":{\"strategy\":" + json_quote(p.strategy) +
                     ",\"merge_tiebreak\":" + json_quote(p.merge_tiebreak) + "}";
              first = false;
            }
            return out + "}";
          }};
}

std::vector<Field> fields_of(Config& c) {
  return {
      string_field("state_dir", c.state_dir),
      string_field("socket", c.socket),
      remote_field(c),
      string_field("log_level", c.log_level, {"debug", "info", "warning", "error"}),
      string_field("log_format", c.log_format, {"text", "json"}),
      int_field("ipc.max_frame_bytes", c.ipc.max_frame_bytes, 1024, 1LL << 30),
      int_field("ipc.max_output_bytes", c.ipc.max_output_bytes, 4096, 1LL << 32),
      int_field("ipc.max_total_output_bytes", c.ipc.max_total_output_bytes, 4096, 1LL << 40),
      int_field("ipc.max_batch", c.ipc.max_batch, 1, 1000000),
      int_field("ipc.max_clients", c.ipc.max_clients, 1, 1 << 20),
      int_field("ipc.max_clients_per_uid", c.ipc.max_clients_per_uid, 1, 1 << 20),
      int_field("ipc.max_subscriptions", c.ipc.max_subscriptions, 1, 1 << 20),
      int_field("ipc.max_output_bytes_per_uid", c.ipc.max_output_bytes_per_uid, 4096, 1LL << 40),
      id_list_field("ipc.allowed_uids", c.ipc.allowed_uids),
      id_list_field("ipc.allowed_gids", c.ipc.allowed_gids),
      grants_field("ipc.grants", c.ipc.grants),
      int_field("store.max_document_bytes", c.store.max_document_bytes, 2, 1LL << 30),
      int_field("store.max_document_depth", c.store.max_document_depth, 1, kMaxDocumentDepth),
      string_field("store.synchronous", c.store.synchronous, {"full", "normal"}),
      int_field("sync.batch_size", c.sync.batch_size, 1, 100000),
      int_field("sync.batch_bytes", c.sync.batch_bytes, 1024, 1LL << 30),
      int_field("sync.max_inflight", c.sync.max_inflight, 1, 64),
      int_field("sync.pull_interval_s", c.sync.pull_interval_s, 1, 86400 * 7),
      int_field("sync.pull_limit", c.sync.pull_limit, 1, 100000),
      string_field("sync.default_direction", c.sync.default_direction, kDirections),
      directions_field("sync.collections", c.sync.collections),
      int_field("backoff.initial_ms", c.backoff.initial_ms, 1, 86400000),
      number_field("backoff.factor", c.backoff.factor, 1.0, 100.0),
      int_field("backoff.max_ms", c.backoff.max_ms, 1, 86400000),
      int_field("backoff.max_retry_after_s", c.backoff.max_retry_after_s, 1, 86400 * 7),
      int_field("breaker.failure_threshold", c.breaker.failure_threshold, 1, 1000000),
      int_field("breaker.cooldown_ms", c.breaker.cooldown_ms, 1, 86400000),
      int_field("http.connect_timeout_ms", c.http.connect_timeout_ms, 1, 600000),
      int_field("http.timeout_ms", c.http.timeout_ms, 1, 3600000),
      int_field("http.low_speed_time_s", c.http.low_speed_time_s, 1, 3600),
      int_field("http.max_response_bytes", c.http.max_response_bytes, 1024, 1LL << 34),
      string_field("tls.ca_file", c.tls.ca_file),
      string_field("tls.client_cert", c.tls.client_cert),
      string_field("tls.client_key", c.tls.client_key),
      pins_field("tls.pinned_pubkey", c.tls.pinned_pubkeys),
      bool_field("tls.insecure_skip_verify", c.tls.insecure_skip_verify),
      optional_choice_field("auth.mode", c.auth.mode, {"none", "bearer", "oauth2", "basic"}),
      string_field("auth.token", c.auth.token),
      string_field("auth.token_file", c.auth.token_file),
      string_field("auth.token_url", c.auth.token_url),
      string_field("auth.refresh_token", c.auth.refresh_token),
      string_field("auth.refresh_token_file", c.auth.refresh_token_file),
      string_field("auth.client_id", c.auth.client_id),
      string_field("auth.client_secret", c.auth.client_secret),
      string_field("auth.client_secret_file", c.auth.client_secret_file),
      string_field("auth.username", c.auth.username),
      string_field("auth.password_file", c.auth.password_file),
      listen_field("metrics.listen", c.metrics.listen),
      string_field("conflicts.strategy", c.conflicts.strategy, kStrategies),
      string_field("conflicts.merge_tiebreak", c.conflicts.merge_tiebreak, kTiebreaks),
      collections_field("conflicts.collections", c.conflicts.collections, c.conflicts),
  };
}

bool is_section(const std::vector<Field>& fields, const std::string& path) {
  std::string prefix = path + ".";
  for (const auto& f : fields) {
    if (f.path.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

const Field* find_field(const std::vector<Field>& fields, const std::string& path) {
  for (const auto& f : fields) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

void read_object(const JsonValue& object, const std::string& prefix,
                 const std::vector<Field>& fields, std::string_view source,
                 std::vector<std::function<void()>>& deferred) {
  for (const auto& member : object.GetObject()) {
    std::string path = prefix + std::string(member.name.GetString(), member.name.GetStringLength());
    if (const Field* field = find_field(fields, path)) {
      // Collections are read last so that their defaults are the final top-level policy.
      auto read = [field, &member, path, source] {
        if (auto error = field->read(member.value)) {
          throw ConfigError(std::string(source) + ": " + path + ": " + *error);
        }
      };
      if (path == "conflicts.collections") {
        deferred.push_back(read);
      } else {
        read();
      }
    } else if (is_section(fields, path)) {
      if (!member.value.IsObject()) {
        throw ConfigError(std::string(source) + ": " + path + ": expected an object" +
                          got(member.value));
      }
      read_object(member.value, path + ".", fields, source, deferred);
    } else {
      throw ConfigError(std::string(source) + ": " + path + ": unknown key");
    }
  }
}

// URL schemes are case-insensitive (RFC 3986 section 3.1), and libcurl takes "HTTP://".
bool has_scheme(const std::string& url, std::string_view scheme) {
  if (url.size() < scheme.size()) return false;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) return false;
  }
  return true;
}

}  // namespace

bool has_credentials(const Config& c) {
  return !c.auth.token.empty() || !c.auth.password.empty() || !c.auth.token_file.empty() ||
         !c.auth.refresh_token.empty() || !c.auth.refresh_token_file.empty() ||
         !c.auth.client_secret.empty() || !c.auth.client_secret_file.empty() ||
         !c.auth.username.empty() || c.auth.mode == "bearer" || c.auth.mode == "oauth2" ||
         c.auth.mode == "basic";
}

void validate_config(const Config& c) {
  if (c.state_dir.empty()) throw ConfigError("state_dir: must not be empty");
  if (c.store.max_document_bytes + 1024 > c.ipc.max_frame_bytes) {
    throw ConfigError("store.max_document_bytes (" + std::to_string(c.store.max_document_bytes) +
                      ") must be at least 1024 bytes below ipc.max_frame_bytes (" +
                      std::to_string(c.ipc.max_frame_bytes) + ") so a document fits in a frame");
  }
  if (c.ipc.max_total_output_bytes < c.ipc.max_output_bytes) {
    throw ConfigError("ipc.max_total_output_bytes (" +
                      std::to_string(c.ipc.max_total_output_bytes) +
                      ") must not be below ipc.max_output_bytes (" +
                      std::to_string(c.ipc.max_output_bytes) + "), the budget of one client");
  }
  if (c.backoff.initial_ms > c.backoff.max_ms) {
    throw ConfigError("backoff.initial_ms (" + std::to_string(c.backoff.initial_ms) +
                      ") must not exceed backoff.max_ms (" + std::to_string(c.backoff.max_ms) +
                      ")");
  }
  if (c.auth.username.empty() && !c.auth.password_file.empty()) {
    throw ConfigError("auth.username and auth.password_file: basic auth needs both");
  }
  if (!c.auth.username.empty() && !c.auth.token.empty()) {
    throw ConfigError("auth.username and auth.token: choose basic auth or a bearer token");
  }
  if (c.auth.username.find(':') != std::string::npos) {
    throw ConfigError("auth.username: a ':' cannot be sent in HTTP basic auth");
  }
  if (c.remote.find_first_of("?#") != std::string::npos) {
    throw ConfigError(
        "remote: no query or fragment (\"?\", \"#\"): syncd appends the paths "
        "it asks for to the URL");
  }
  if (!has_scheme(c.remote, "http://") && !has_scheme(c.remote, "https://")) {
    throw ConfigError("remote: expected an http:// or https:// URL, got \"" +
                      url_without_user_info(c.remote) + "\"");
  }
  if (c.tls.client_cert.empty() != c.tls.client_key.empty()) {
    throw ConfigError("tls.client_cert and tls.client_key: a client certificate needs both");
  }
  if (!c.auth.token_url.empty() && !has_scheme(c.auth.token_url, "http://") &&
      !has_scheme(c.auth.token_url, "https://")) {
    throw ConfigError("auth.token_url: expected an http:// or https:// URL, got \"" +
                      url_without_user_info(c.auth.token_url) + "\"");
  }
  check_credentials_transport(c);
}

std::optional<std::string> credentials_transport_refusal(const Config& c) {
  if (c.allow_insecure_http) return std::nullopt;
  for (const std::string* url : {&c.remote, &c.auth.token_url}) {
    if (has_scheme(*url, "http://") && !is_loopback_host(url_host(*url))) {
      return std::string(url == &c.remote ? "remote" : "auth.token_url") + ": " +
             url_without_user_info(*url) +
             " is plain http:// to a host outside loopback, and credentials would cross the "
             "network readable: use https://, or set remote.allow_insecure_http";
    }
  }
  return std::nullopt;
}

void check_credentials_transport(const Config& c) {
  if (!has_credentials(c)) return;
  if (auto why = credentials_transport_refusal(c)) throw ConfigError(*why);
}

bool is_secret_key(const std::string& key) {
  return key == "auth.token" || key == "auth.refresh_token" || key == "auth.client_secret";
}

std::vector<std::string> config_warnings(const Config& c) {
  std::vector<std::string> out;
  for (const std::string& key : c.auth.inline_secrets) {
    out.push_back(key + " is written in the config file: move it to " + key +
                  "_file (mode 0600) or a systemd credential (LoadCredential=" + key + ":FILE)");
  }
  if (c.tls.insecure_skip_verify) {
    out.push_back(
        "tls.insecure_skip_verify is set: the server's certificate is not checked, and anyone "
        "on the path can read and change what syncd sends (development only)");
  }
  if (c.allow_insecure_http) {
    out.push_back(
        "remote.allow_insecure_http is set: credentials may go over plain http:// to a host "
        "outside loopback");
  }
  return out;
}

Config parse_config(std::string_view text, std::string_view source) {
  JsonDocument doc;
  if (auto error = parse_json_relaxed(text, doc)) {
    throw ConfigError(std::string(source) + ": " + *error);
  }
  if (!doc.IsObject()) {
    throw ConfigError(std::string(source) + ": expected a JSON object at the top, got " +
                      json_type_name(doc));
  }
  // A key given twice would silently take one of its values.
  auto problem = check_json_value(doc, kMaxJsonDepth);
  if (problem && problem->kind == JsonProblem::Kind::duplicate_key) {
    std::string where = problem->path.empty() ? "" : problem->path.substr(1) + ": ";
    std::replace(where.begin(), where.end(), '/', '.');
    throw ConfigError(std::string(source) + ": " + where + "the key " + problem->key +
                      " is given twice");
  }
  Config config;
  std::vector<Field> fields = fields_of(config);
  std::vector<std::function<void()>> deferred;
  read_object(doc, "", fields, source, deferred);
  for (auto& read : deferred) read();
  try {
    validate_config(config);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(source) + ": " + e.what());
  }
  return config;
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

std::vector<std::pair<std::string, std::string>> flatten_config(const Config& config) {
  Config copy = config;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : fields_of(copy)) out.emplace_back(f.path, f.show());
  return out;
}

std::vector<std::string> describe_changes(const Config& before, const Config& after) {
  auto a = flatten_config(before);
  auto b = flatten_config(after);
  std::vector<std::string> changes;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].second != b[i].second) {
      const bool secret = is_secret_key(a[i].first);
      // A URL may carry user:password: shown without it.
      const bool url = a[i].first == "remote" || a[i].first == "auth.token_url";
      auto shown = [url](const std::string& v) { return url ? url_without_user_info(v) : v; };
      changes.push_back(a[i].first + ": " +
                        (secret ? "(changed)" : shown(a[i].second) + " -> " + shown(b[i].second)));
    }
  }
  return changes;
}

}  // namespace syncd
