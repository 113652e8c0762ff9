#include "daemon/methods.h"

#include <unistd.h>

#include <algorithm>
#include <tuple>

#include "daemon/prometheus_text.h"
#include "daemon/rpc_error.h"
#include "store/keys.h"
#include "util/logger.h"

namespace syncd {
namespace {
constexpr int64_t kDefaultListLimit = 100;
constexpr int64_t kMaxListLimit = 1000;
// A list page also ends once its documents pass this many bytes (with `next` set), so
// that one request's answer, and the loop's time on it, stay bounded whatever the
// documents' sizes; the store is read this many rows at a time for it.
constexpr size_t kPageBytes = 1 << 20;
constexpr size_t kPageRows = 16;

const JsonValue* member(const JsonValue& params, const char* name) {
  if (!params.IsObject()) return nullptr;
  auto it = params.FindMember(name);
  return it == params.MemberEnd() ? nullptr : &it->value;
}

std::string require_key(const JsonValue& params, const char* name) {
  const JsonValue* v = member(params, name);
  if (v == nullptr) throw invalid_params(std::string("params.") + name + " is required");
  if (!v->IsString()) {
    throw invalid_params(std::string("params.") + name + ": expected a string, got " +
                         json_type_name(*v));
  }
  std::string key(v->GetString(), v->GetStringLength());
  if (auto error = check_key(key, std::string("params.") + name)) {
    throw RpcError(rpc_code::kInvalidParams, "invalid_key", *error);
  }
  return key;
}

std::optional<std::string> optional_string(const JsonValue& params, const char* name) {
  const JsonValue* v = member(params, name);
  if (v == nullptr || v->IsNull()) return std::nullopt;
  if (!v->IsString()) {
    throw invalid_params(std::string("params.") + name + ": expected a string, got " +
                         json_type_name(*v));
  }
  return std::string(v->GetString(), v->GetStringLength());
}

int64_t optional_int(const JsonValue& params, const char* name, int64_t fallback, int64_t min,
                     int64_t max) {
  const JsonValue* v = member(params, name);
  if (v == nullptr || v->IsNull()) return fallback;
  if (!v->IsInt64() || v->GetInt64() < min || v->GetInt64() > max) {
    throw invalid_params(std::string("params.") + name + ": expected an integer from " +
                         std::to_string(min) + " to " + std::to_string(max));
  }
  return v->GetInt64();
}

void add_time(JsonValue& out, const char* name, std::optional<int64_t> ms, JsonAllocator& alloc) {
  if (ms) {
    out.AddMember(rapidjson::StringRef(name), json_string(format_rfc3339_utc(*ms), alloc), alloc);
  } else {
    out.AddMember(rapidjson::StringRef(name), JsonValue(rapidjson::kNullType), alloc);
  }
}

void add_optional_string(JsonValue& out, const char* name, const std::optional<std::string>& s,
                         JsonAllocator& alloc) {
  out.AddMember(rapidjson::StringRef(name),
                s ? json_string(*s, alloc) : JsonValue(rapidjson::kNullType), alloc);
}

void mutation_to_json(const Mutation& m, JsonValue& out, JsonAllocator& alloc) {
  out.SetObject();
  out.AddMember("id", json_string(m.id, alloc), alloc);
  out.AddMember("seq", JsonValue(m.seq), alloc);
  out.AddMember("collection", json_string(m.collection, alloc), alloc);
  out.AddMember("doc_id", json_string(m.doc_id, alloc), alloc);
  out.AddMember("op", rapidjson::StringRef(to_string(m.op)), alloc);
  out.AddMember("state", rapidjson::StringRef(to_string(m.state)), alloc);
  add_optional_string(out, "base_version", m.base_version, alloc);
  out.AddMember("attempts", JsonValue(m.attempts), alloc);
  add_time(out, "created_at", m.created_at_ms, alloc);
  add_time(out, "next_attempt_at",
           m.next_attempt_at_ms > 0 ? std::optional<int64_t>(m.next_attempt_at_ms) : std::nullopt,
           alloc);
  add_optional_string(out, "last_error", m.last_error, alloc);
}

void parse_stored(const std::string& text, JsonValue& out, JsonAllocator& alloc) {
  JsonDocument doc;
  if (auto error = parse_json(text, doc)) {
    throw RpcError(rpc_code::kInternalError, "corrupt_document",
                   "stored document is not valid JSON: " + *error);
  }
  out.CopyFrom(doc, alloc);
}
}  // namespace

void document_to_json(const StoredDocument& doc, JsonValue& out, JsonAllocator& alloc) {
  out.SetObject();
  out.AddMember("collection", json_string(doc.collection, alloc), alloc);
  out.AddMember("id", json_string(doc.id, alloc), alloc);
  JsonValue data;
  if (doc.local_data) parse_stored(*doc.local_data, data, alloc);
  out.AddMember("data", data, alloc);
  add_optional_string(out, "version", doc.server_version, alloc);
  out.AddMember("pending", JsonValue(doc.pending), alloc);
}

void Methods::call(std::string_view method, const JsonValue& params, CallContext& ctx,
                   JsonValue& result, JsonAllocator& alloc) {
  if (!params.IsObject() && !params.IsNull()) {
    throw invalid_params(std::string("params must be an object, got ") + json_type_name(params));
  }
  // ipc.grants: a method on one collection is refused before it does anything.
  if (ctx.access != nullptr) {
    const bool writes = method == "put" || method == "patch" || method == "delete";
    const bool reads = method == "get" || method == "list" ||
                       (method == "subscribe" && member(params, "collection") != nullptr &&
                        !member(params, "collection")->IsNull());
    if (writes || reads) check_access(ctx, require_key(params, "collection"), writes);
  }
  if (method == "put") return write(MutationOp::put, params, ctx, result, alloc);
  if (method == "patch") return write(MutationOp::patch, params, ctx, result, alloc);
  if (method == "delete") return write(MutationOp::del, params, ctx, result, alloc);
  if (method == "get") return get(params, result, alloc);
  if (method == "list") return list(params, result, alloc);
  if (method == "status") return status(result, alloc);
  if (method == "subscribe") return subscribe(params, ctx, result, alloc);
  if (method == "unsubscribe") return unsubscribe(params, ctx, result, alloc);
  if (method == "queue.list") {
    std::optional<MutationState> state;
    if (auto s = optional_string(params, "state")) {
      state = parse_mutation_state(*s);
      if (!state) {
        throw invalid_params("params.state: expected pending, inflight, failed or conflict");
      }
    }
    return queue_list(params, state, ctx.access, result, alloc);
  }
  if (method == "queue.retry") return queue_retry(params, ctx, result, alloc);
  if (method == "conflicts.list") return conflicts_list(params, ctx.access, result, alloc);
  if (method == "conflicts.resolve") return conflicts_resolve(params, ctx, result, alloc);
  if (method == "sync.now") {
    if (sync_) sync_->sync_now();
    result.SetObject();
    result.AddMember("scheduled", sync_ != nullptr, alloc);
    result.AddMember(
        "connectivity",
        rapidjson::StringRef(sync_ ? to_string(sync_->status().connectivity) : "offline"), alloc);
    return;
  }
  if (method == "auth.set_token" || method == "auth.login") {
    return install_credentials(method, params, ctx, result, alloc);
  }
  if (method == "metrics") return metrics(params, result, alloc);
  if (method == "doctor") return doctor(params, result, alloc);
  throw RpcError(rpc_code::kMethodNotFound, "method_not_found",
                 "unknown method " + std::string(method));
}

namespace {

// A secret from a client: the shape a token endpoint's answer must have (is_token_text).
std::string secret_param(const JsonValue& params, const char* name) {
  const std::optional<std::string> value = optional_string(params, name);
  if (!value) throw invalid_params(std::string("params.") + name + ": required, a string");
  if (!is_token_text(*value)) {
    throw invalid_params(std::string("params.") + name +
                         ": expected 1 to 16384 bytes of visible ASCII");
  }
  return *value;
}

}  // namespace

void Methods::install_credentials(std::string_view method, const JsonValue& params,
                                  CallContext& ctx, JsonValue& result, JsonAllocator& alloc) {
  // Credentials decide which account the device's data goes to: only the daemon's own
  // user (or root) may change them, whoever else ipc.allowed_uids lets in.
  if (ctx.peer_uid != 0 && ctx.peer_uid != static_cast<int64_t>(::geteuid())) {
    throw RpcError(rpc_code::kForbidden, "forbidden",
                   std::string(method) + " is for root or syncd's own user (uid " +
                       std::to_string(::geteuid()) + "), not uid " + std::to_string(ctx.peer_uid));
  }
  if (!sync_)
    throw RpcError(rpc_code::kInternalError, "internal", "the sync engine is not running");
  if (credentials_refusal_) {
    throw RpcError(rpc_code::kInvalidParams, "insecure_transport", *credentials_refusal_);
  }
  Credentials& credentials = sync_->credentials();
  if (method == "auth.set_token") {
    const std::string kind = optional_string(params, "kind").value_or("access");
    if (kind != "access" && kind != "refresh") {
      throw invalid_params("params.kind: expected access or refresh");
    }
    std::string token = secret_param(params, "token");
    if (credentials.uses_basic()) {
      throw invalid_params(
          "the remote uses basic auth (auth.username, auth.password_file): no token is sent");
    }
    if (kind == "refresh") {
      if (!credentials.can_grant()) {
        throw invalid_params("a refresh token needs a token endpoint: auth.token_url is not set");
      }
      credentials.install_refresh_token(std::move(token));
    } else {
      credentials.install_access_token(std::move(token));
    }
  } else {
    if (!credentials.can_grant()) {
      throw invalid_params("auth.login needs a token endpoint: auth.token_url is not set");
    }
    std::string secret = secret_param(params, "client_secret");
    const std::string client_id = optional_string(params, "client_id").value_or("");
    if (client_id.empty() && !credentials.has_client_id()) {
      throw invalid_params("params.client_id: required (auth.client_id is not set)");
    }
    credentials.install_client_secret(client_id, std::move(secret));
  }
  log_info(std::string("sync: new credentials installed by ") + std::string(method) + " (uid " +
           std::to_string(ctx.peer_uid) + ")");
  sync_->credentials_changed();
  result.SetObject();
  result.AddMember("auth", rapidjson::StringRef(credentials.state()), alloc);
}

void Methods::write(MutationOp op, const JsonValue& params, CallContext& ctx, JsonValue& result,
                    JsonAllocator& alloc) {
  LocalWrite w;
  w.op = op;
  w.collection = require_key(params, "collection");
  w.id = require_key(params, "id");
  if (op != MutationOp::del) {
    const JsonValue* data = member(params, "data");
    if (data == nullptr) throw invalid_params("params.data is required");
    if (!data->IsObject()) {
      throw RpcError(
          rpc_code::kInvalidParams, "invalid_document",
          std::string("params.data: expected a JSON object, got ") + json_type_name(*data));
    }
    w.data = data;
  }
  LocalWriteResult written = writes_.apply(w);
  ++ctx.writes;
  result.SetObject();
  result.AddMember("mutation_id", json_string(written.mutation_id, alloc), alloc);
  result.AddMember("collection", json_string(w.collection, alloc), alloc);
  result.AddMember("id", json_string(w.id, alloc), alloc);
  ctx.changes.push_back(ChangeEvent{w.collection, w.id, std::move(written.local_data), "local"});
}

void Methods::get(const JsonValue& params, JsonValue& result, JsonAllocator& alloc) {
  std::string collection = require_key(params, "collection");
  std::string id = require_key(params, "id");
  std::optional<StoredDocument> doc = writes_.find(collection, id);
  if (!doc || !doc->visible()) {
    throw RpcError(rpc_code::kNotFound, "not_found", "no document " + collection + "/" + id);
  }
  document_to_json(*doc, result, alloc);
}

void Methods::list(const JsonValue& params, JsonValue& result, JsonAllocator& alloc) {
  std::string collection = require_key(params, "collection");
  std::string prefix = optional_string(params, "prefix").value_or("");
  int64_t limit = optional_int(params, "limit", kDefaultListLimit, 1, kMaxListLimit);
  std::optional<std::string> after = optional_string(params, "after");
  DocumentPage page;
  size_t bytes = 0;
  bool more = true;
  while (more && page.items.size() < static_cast<size_t>(limit) && bytes < kPageBytes) {
    const size_t want = std::min(kPageRows, static_cast<size_t>(limit) - page.items.size());
    DocumentPage part = documents_.list(collection, prefix, after, want);
    more = part.next.has_value();
    for (size_t i = 0; i < part.items.size(); ++i) {
      bytes += part.items[i].local_data ? part.items[i].local_data->size() : 0;
      page.items.push_back(std::move(part.items[i]));
      if (bytes >= kPageBytes && i + 1 < part.items.size()) {
        more = true;
        break;
      }
    }
    if (!page.items.empty()) after = page.items.back().id;
  }
  if (more && !page.items.empty()) page.next = page.items.back().id;
  result.SetObject();
  JsonValue items(rapidjson::kArrayType);
  for (const auto& doc : page.items) {
    JsonValue item;
    document_to_json(doc, item, alloc);
    items.PushBack(item, alloc);
  }
  result.AddMember("items", items, alloc);
  add_optional_string(result, "next", page.next, alloc);
}

void Methods::status(JsonValue& result, JsonAllocator& alloc) {
  QueueCounts counts = writes_.counts();
  result.SetObject();
  result.AddMember("version", SYNCD_VERSION, alloc);
  result.AddMember("client_id", json_string(info_.client_id, alloc), alloc);
  result.AddMember("uptime_s",
                   JsonValue((clock_.monotonic_ms() - info_.started_monotonic_ms) / 1000), alloc);
  SyncStatus sync = sync_ ? sync_->status() : SyncStatus{};
  result.AddMember("connectivity", rapidjson::StringRef(to_string(sync.connectivity)), alloc);
  add_time(result, "connectivity_since", sync.connectivity_since_ms, alloc);
  result.AddMember("breaker", rapidjson::StringRef(to_string(sync.breaker)), alloc);
  result.AddMember("auth", json_string(sync.auth, alloc), alloc);
  JsonValue queue(rapidjson::kObjectType);
  queue.AddMember("pending", JsonValue(counts.pending), alloc);
  queue.AddMember("inflight", JsonValue(counts.inflight), alloc);
  queue.AddMember("failed", JsonValue(counts.failed), alloc);
  queue.AddMember("conflict", JsonValue(counts.conflict), alloc);
  result.AddMember("queue", queue, alloc);
  std::optional<int64_t> oldest = writes_.oldest_pending_created_ms();
  if (oldest) {
    result.AddMember("oldest_pending_age_s",
                     JsonValue(std::max<int64_t>(0, (clock_.now_ms() - *oldest) / 1000)), alloc);
  } else {
    result.AddMember("oldest_pending_age_s", JsonValue(rapidjson::kNullType), alloc);
  }
  add_time(result, "last_push", sync.last_push_ms, alloc);
  add_time(result, "last_pull", sync.last_pull_ms, alloc);
  add_time(result, "next_retry", sync.next_retry_ms, alloc);
  add_optional_string(result, "last_error",
                      sync.last_error.empty() ? std::nullopt : std::optional(sync.last_error),
                      alloc);
  add_time(result, "last_error_at", sync.last_error_at_ms, alloc);
  JsonValue warnings(rapidjson::kArrayType);
  for (const std::string& w : info_.warnings) warnings.PushBack(json_string(w, alloc), alloc);
  result.AddMember("warnings", warnings, alloc);
}

void Methods::doctor(const JsonValue& params, JsonValue& result, JsonAllocator& alloc) {
  std::optional<int64_t> since;
  if (const JsonValue* v = member(params, "since_ms"); v != nullptr && !v->IsNull()) {
    if (!v->IsInt64()) throw invalid_params("params.since_ms: expected an integer");
    since = v->GetInt64();
  }
  const SyncStatus sync = sync_ ? sync_->status() : SyncStatus{};
  const bool fresh = !since || (sync.last_contact_sent_ms && *sync.last_contact_sent_ms >= *since);
  result.SetObject();
  result.AddMember("fresh", fresh, alloc);
  // A poll for freshness is answered cheaply: the checks read the disk, on the loop.
  if (!fresh) return;
  DoctorState state;
  state.sync = sync;
  state.queue = writes_.counts();
  state.oldest_pending_created_ms = writes_.oldest_pending_created_ms();
  state.now_ms = clock_.now_ms();
  JsonValue checks(rapidjson::kArrayType);
  for (const DoctorFinding& f : examine(doctor_setup_, state)) {
    JsonValue item(rapidjson::kObjectType);
    item.AddMember("check", json_string(f.check, alloc), alloc);
    item.AddMember("outcome", rapidjson::StringRef(to_string(f.outcome)), alloc);
    item.AddMember("detail", json_string(f.detail, alloc), alloc);
    if (!f.fix.empty()) item.AddMember("fix", json_string(f.fix, alloc), alloc);
    checks.PushBack(item, alloc);
  }
  result.AddMember("checks", checks, alloc);
}

std::vector<Metrics::Entry> Methods::journal_entries() const {
  const WriteBacklog b = writes_.backlog();
  return {
      {"journal_unapplied", b.unapplied, false,
       "acknowledged writes in the journal not yet in the tables"},
      {"journal_loop_slices", b.loop_slices, true,
       "times the loop applied journaled writes itself"},
      {"journal_applier_raised", b.applier_raised, true,
       "times the journal applier left idle priority to catch up"},
      {"journal_lost_at_start", b.lost_at_start, false,
       "acknowledged writes a damaged journal had lost at start"},
      {"journal_mark_failures", b.mark_failures, true, "writes of journal.mark that failed"},
  };
}

namespace {

// The sync engine's counters as Prometheus families.
void sync_counters_text(const SyncCounters& c, PrometheusText& out) {
  for (const auto& [family, by_outcome, what] :
       {std::tuple{"syncd_pushes_total", &c.pushes, "pushes to the remote by outcome"},
        std::tuple{"syncd_pulls_total", &c.pulls, "pulls from the remote by outcome"}}) {
    out.family(family, "counter", what);
    for (const char* outcome : {"ok", "unreachable", "retryable", "rejected", "unauthorised"}) {
      auto it = by_outcome->find(outcome);
      out.sample(family, static_cast<int64_t>(it == by_outcome->end() ? 0 : it->second),
                 {{"outcome", outcome}});
    }
  }
  out.family("syncd_request_duration_seconds", "histogram",
             "time from sending a request to the remote to its answer");
  out.histogram("syncd_request_duration_seconds", c.push_seconds, {{"request", "push"}});
  out.histogram("syncd_request_duration_seconds", c.pull_seconds, {{"request", "pull"}});
  out.family("syncd_dead_letters_total", "counter",
             "mutations the remote refused, moved to failed");
  out.sample("syncd_dead_letters_total", static_cast<int64_t>(c.dead_letters));
  out.family("syncd_conflicts_total", "counter",
             "conflicts the remote answered, by the strategy that settled them and its outcome");
  for (const auto& [key, n] : c.conflicts) {
    out.sample("syncd_conflicts_total", static_cast<int64_t>(n),
               {{"strategy", key.first}, {"outcome", key.second}});
  }
}

}  // namespace

void Methods::metrics(const JsonValue& params, JsonValue& result, JsonAllocator& alloc) {
  const std::string format = optional_string(params, "format").value_or("json");
  if (format == "json") {
    metrics_.to_json(result, alloc);
    for (const Metrics::Entry& e : journal_entries()) {
      result.AddMember(rapidjson::StringRef(e.name), JsonValue(e.value), alloc);
    }
    return;
  }
  if (format != "prometheus") throw invalid_params("params.format: expected json or prometheus");
  result.SetObject();
  result.AddMember("text", json_string(prometheus_text(), alloc), alloc);
}

std::string Methods::prometheus_text() const {
  PrometheusText out;
  std::vector<Metrics::Entry> all = metrics_.entries();
  for (const Metrics::Entry& e : journal_entries()) all.push_back(e);
  for (const Metrics::Entry& e : all) {
    const std::string name = std::string("syncd_") + e.name + (e.counter ? "_total" : "");
    out.family(name, e.counter ? "counter" : "gauge", e.help);
    out.sample(name, static_cast<int64_t>(e.value));
  }
  out.family("syncd_commit_writes", "histogram", "writes per group commit");
  out.histogram("syncd_commit_writes", metrics_.commit_writes);
  if (sync_) sync_counters_text(sync_->counters(), out);
  // What `status` says, as numbers and state sets.
  const QueueCounts counts = writes_.counts();
  out.family("syncd_queue_mutations", "gauge", "mutations in the queue by state");
  for (const auto& [state, n] :
       {std::pair{"pending", counts.pending}, std::pair{"inflight", counts.inflight},
        std::pair{"failed", counts.failed}, std::pair{"conflict", counts.conflict}}) {
    out.sample("syncd_queue_mutations", static_cast<int64_t>(n), {{"state", state}});
  }
  const std::optional<int64_t> oldest = writes_.oldest_pending_created_ms();
  out.family("syncd_queue_oldest_pending_age_seconds", "gauge",
             "age of the oldest pending mutation (0: none)");
  out.sample(
      "syncd_queue_oldest_pending_age_seconds",
      oldest ? std::max<double>(0, static_cast<double>(clock_.now_ms() - *oldest) / 1000) : 0.0);
  const SyncStatus sync = sync_ ? sync_->status() : SyncStatus{};
  out.family("syncd_connectivity", "gauge", "the remote's reachability (1: the current state)");
  out.states("syncd_connectivity", {"online", "degraded", "offline"}, to_string(sync.connectivity));
  out.family("syncd_breaker", "gauge", "the circuit breaker (1: the current state)");
  out.states("syncd_breaker", {"closed", "open", "half_open"}, to_string(sync.breaker));
  out.family("syncd_auth", "gauge", "the remote's credentials (1: the current state)");
  out.states("syncd_auth", {"none", "ok", "failed", "auth_failed"}, sync.auth);
  out.family("syncd_retry_wait_seconds", "gauge",
             "time until the next request to the remote, when one waits out a backoff (0: none)");
  out.sample(
      "syncd_retry_wait_seconds",
      sync.next_retry_ms
          ? std::max<double>(0, static_cast<double>(*sync.next_retry_ms - clock_.now_ms()) / 1000)
          : 0.0);
  out.family("syncd_uptime_seconds", "gauge", "time since syncd started");
  out.sample("syncd_uptime_seconds",
             static_cast<double>(clock_.monotonic_ms() - info_.started_monotonic_ms) / 1000);
  out.family("syncd_info", "gauge", "syncd's version (always 1)");
  out.sample("syncd_info", int64_t{1}, {{"version", SYNCD_VERSION}});
  return out.text();
}

void Methods::check_access(const CallContext& ctx, const std::string& collection,
                           bool write) const {
  if (ctx.access == nullptr) return;
  if (write ? ctx.access->may_write(collection) : ctx.access->may_read(collection)) return;
  throw RpcError(rpc_code::kForbidden, "forbidden",
                 "uid " + std::to_string(ctx.peer_uid) + " may not " + (write ? "write" : "read") +
                     " collection " + collection + " (ipc.grants)");
}

void Methods::conflicts_list(const JsonValue& params, const CollectionAccess* access,
                             JsonValue& result, JsonAllocator& alloc) {
  const JsonValue* all = member(params, "all");
  if (all == nullptr || !all->IsTrue() || resolutions_ == nullptr) {
    return queue_list(params, MutationState::conflict, access, result, alloc);
  }
  int64_t limit = optional_int(params, "limit", kDefaultListLimit, 1, kMaxListLimit);
  result.SetObject();
  JsonValue items(rapidjson::kArrayType);
  // With ipc.grants the newest `limit` the peer may read, looked for among the newest
  // kMaxResolutionsScanned (the log has no paging).
  constexpr size_t kMaxResolutionsScanned = 10000;
  const bool restricted = access != nullptr && !access->reads_everything();
  size_t taken = 0;
  for (const Resolution& r :
       resolutions_->recent(restricted ? kMaxResolutionsScanned : static_cast<size_t>(limit))) {
    if (restricted && !access->may_read(r.collection)) continue;
    if (taken++ == static_cast<size_t>(limit)) break;
    JsonValue item(rapidjson::kObjectType);
    item.AddMember("mutation_id", json_string(r.mutation_id, alloc), alloc);
    item.AddMember("collection", json_string(r.collection, alloc), alloc);
    item.AddMember("doc_id", json_string(r.doc_id, alloc), alloc);
    item.AddMember("strategy", json_string(r.strategy, alloc), alloc);
    item.AddMember("outcome", json_string(r.outcome, alloc), alloc);
    for (auto [name, text] :
         {std::pair{"local", &r.local_data}, std::pair{"remote", &r.remote_data},
          std::pair{"result", &r.result_data}}) {
      JsonValue value;
      if (*text) parse_stored(**text, value, alloc);
      item.AddMember(rapidjson::StringRef(name), value, alloc);
    }
    add_optional_string(item, "remote_version", r.remote_version, alloc);
    add_time(item, "resolved_at", r.resolved_at_ms, alloc);
    items.PushBack(item, alloc);
  }
  result.AddMember("items", items, alloc);
  result.AddMember("next", JsonValue(rapidjson::kNullType), alloc);
}

void Methods::conflicts_resolve(const JsonValue& params, CallContext& ctx, JsonValue& result,
                                JsonAllocator& alloc) {
  std::string id = require_key(params, "id");
  const JsonValue* take = member(params, "take");
  std::string choice;
  if (take != nullptr && take->IsString() &&
      (std::string_view(take->GetString()) == "local" ||
       std::string_view(take->GetString()) == "remote")) {
    choice = take->GetString();
  } else if (take != nullptr && take->IsObject()) {
    choice = to_json(*take);
  } else {
    throw invalid_params("params.take: expected \"local\", \"remote\" or a JSON object");
  }
  if (sync_ == nullptr) throw RpcError(rpc_code::kNotFound, "not_found", "no conflict " + id);
  std::optional<Mutation> found = queue_.find(id);
  if (found) check_access(ctx, found->collection, /*write=*/true);
  if (choice != "remote" && found) refuse_unless_pushed(found->collection, "resolved");
  std::vector<RemoteChange> changed;
  if (auto error = sync_->resolve_manually(id, choice, changed)) {
    throw RpcError(rpc_code::kNotFound, "not_found", *error);
  }
  ++ctx.writes;  // it changed the queue: the turn commits before answering
  for (auto& c : changed) ctx.changes.push_back(ChangeEvent{c.collection, c.id, c.data, "local"});
  result.SetObject();
  result.AddMember("resolved", json_string(id, alloc), alloc);
}

void Methods::subscribe(const JsonValue& params, CallContext& ctx, JsonValue& result,
                        JsonAllocator& alloc) {
  std::optional<std::string> collection;
  if (member(params, "collection") != nullptr && !member(params, "collection")->IsNull()) {
    collection = require_key(params, "collection");
  }
  if (ctx.subscriptions.filters.size() >= ctx.subscriptions.max) {
    ++metrics_.subscriptions_refused;
    throw RpcError(rpc_code::kBusy, "too_many_subscriptions",
                   "this connection has " + std::to_string(ctx.subscriptions.filters.size()) +
                       " subscriptions (ipc.max_subscriptions): unsubscribe one first");
  }
  int64_t id = ctx.subscriptions.next_id++;
  ctx.subscriptions.filters[id] = collection;
  result.SetObject();
  result.AddMember("subscription", JsonValue(id), alloc);
}

void Methods::unsubscribe(const JsonValue& params, CallContext& ctx, JsonValue& result,
                          JsonAllocator& alloc) {
  int64_t removed = 0;
  const JsonValue* which = member(params, "subscription");
  if (which == nullptr || which->IsNull()) {
    removed = static_cast<int64_t>(ctx.subscriptions.filters.size());
    ctx.subscriptions.filters.clear();
  } else if (!which->IsInt64()) {
    throw invalid_params("params.subscription: expected an integer");
  } else if (ctx.subscriptions.filters.erase(which->GetInt64()) == 0) {
    throw RpcError(rpc_code::kNotFound, "not_found",
                   "no subscription " + std::to_string(which->GetInt64()));
  } else {
    removed = 1;
  }
  result.SetObject();
  result.AddMember("removed", JsonValue(removed), alloc);
}

void Methods::queue_list(const JsonValue& params, std::optional<MutationState> only,
                         const CollectionAccess* access, JsonValue& result, JsonAllocator& alloc) {
  int64_t limit = optional_int(params, "limit", kDefaultListLimit, 1, kMaxListLimit);
  int64_t after = optional_int(params, "after", 0, 0, INT64_MAX);
  std::vector<Mutation> items = queue_.list(only, static_cast<size_t>(limit) + 1, after);
  bool more = items.size() > static_cast<size_t>(limit);
  if (more) items.pop_back();
  // `next` goes on after the last mutation looked at: with ipc.grants a page holds only
  // what the peer may read (fewer than `limit`, maybe none) and paging still ends.
  const int64_t last_seen = items.empty() ? after : items.back().seq;
  if (access != nullptr && !access->reads_everything()) {
    std::erase_if(items, [access](const Mutation& m) { return !access->may_read(m.collection); });
  }
  result.SetObject();
  JsonValue array(rapidjson::kArrayType);
  for (const auto& m : items) {
    JsonValue item;
    mutation_to_json(m, item, alloc);
    array.PushBack(item, alloc);
  }
  result.AddMember("items", array, alloc);
  result.AddMember("next", more ? JsonValue(last_seen) : JsonValue(rapidjson::kNullType), alloc);
}

void Methods::refuse_unless_pushed(const std::string& collection, const char* what) const {
  const Direction d = directions_.of(collection);
  if (d == Direction::pull) {
    throw RpcError(rpc_code::kForbidden, "read_only",
                   "collection " + collection + " syncs pull-only (sync.collections): its " +
                       "mutations are not " + what);
  }
  if (d == Direction::local) {
    throw RpcError(rpc_code::kForbidden, "local_only",
                   "collection " + collection + " is local (sync.collections): its mutations " +
                       "are not " + what);
  }
}

void Methods::queue_retry(const JsonValue& params, CallContext& ctx, JsonValue& result,
                          JsonAllocator& alloc) {
  const JsonValue* all = member(params, "all");
  std::optional<std::string> id;
  if (all == nullptr || !all->IsTrue()) {
    if (member(params, "id") == nullptr) throw invalid_params("params: give id, or all: true");
    id = require_key(params, "id");
    std::optional<Mutation> m = queue_.find(*id);
    if (!m) throw RpcError(rpc_code::kNotFound, "not_found", "no mutation " + *id);
    check_access(ctx, m->collection, /*write=*/true);
    if (m->state != MutationState::failed) {
      throw RpcError(rpc_code::kInvalidParams, "not_failed",
                     "mutation " + *id + " is " + to_string(m->state) + ", not failed");
    }
    refuse_unless_pushed(m->collection, "retried");
  } else if (ctx.access != nullptr && !ctx.access->writes_everything()) {
    throw RpcError(rpc_code::kForbidden, "forbidden",
                   "uid " + std::to_string(ctx.peer_uid) +
                       " may not write every collection (ipc.grants): retry mutations by id");
  }
  // A retried dead letter is back in its document's local view (sync/dead_letters.h).
  std::vector<RemoteChange> changed;
  const int64_t retried =
      retry_dead_letters(documents_, queue_, ids_, directions_, id, clock_.now_ms(), changed);
  if (retried > 0) ++ctx.writes;  // it changed the queue: the turn commits before answering
  for (auto& c : changed) ctx.changes.push_back(ChangeEvent{c.collection, c.id, c.data, "local"});
  result.SetObject();
  result.AddMember("retried", JsonValue(retried), alloc);
}

}  // namespace syncd
