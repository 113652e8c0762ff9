#include "daemon/daemon.h"

#include <systemd/sd-daemon.h>
#include <uv.h>

#include <malloc.h>

#include <algorithm>

#include <csignal>
#include <memory>

#include "config/secret_file.h"
#include "daemon/ipc_server.h"
#include "daemon/methods.h"
#include "daemon/metrics.h"
#include "daemon/metrics_endpoint.h"
#include "daemon/rpc_handler.h"
#include "daemon/socket_activation.h"
#include "daemon/state_dir.h"
#include "queue/journaled_writes.h"
#include "queue/local_writes.h"
#include "queue/mutation_queue.h"
#include "store/document_store.h"
#include "store/meta_store.h"
#include "store/resolution_log.h"
#include "store/schema.h"
#include "sync/curl_transport.h"
#include "sync/logged_transport.h"
#include "sync/netlink_monitor.h"
#include "sync/sync_engine.h"
#include "util/logger.h"
#include "util/random.h"
#include "util/url_encode.h"
#include "util/uuid7.h"

namespace syncd {
namespace {

constexpr uint64_t kShutdownDrainMs = 2000;

IpcLimits limits_from(const Config& c) {
  IpcLimits limits;
  limits.max_frame_bytes = static_cast<size_t>(c.ipc.max_frame_bytes);
  limits.max_output_bytes = static_cast<size_t>(c.ipc.max_output_bytes);
  limits.max_total_output_bytes = static_cast<size_t>(c.ipc.max_total_output_bytes);
  limits.max_batch = static_cast<size_t>(c.ipc.max_batch);
  limits.max_clients = static_cast<size_t>(c.ipc.max_clients);
  limits.max_clients_per_uid = static_cast<size_t>(c.ipc.max_clients_per_uid);
  limits.max_subscriptions = static_cast<size_t>(c.ipc.max_subscriptions);
  limits.max_output_bytes_per_uid = static_cast<size_t>(c.ipc.max_output_bytes_per_uid);
  limits.allowed_uids = c.ipc.allowed_uids;
  limits.allowed_gids = c.ipc.allowed_gids;
  limits.grants = c.ipc.grants;
  return limits;
}

void apply_log_level(const Config& c) {
  LogLevel level = LogLevel::info;
  parse_log_level(c.log_level, level);
  set_log_level(level);
  set_log_format(c.log_format == "json" ? LogFormat::json : LogFormat::text);
}

RemoteSettings remote_settings_from(const Config& c, const std::string& client_id) {
  RemoteSettings r;
  r.endpoint.url = c.remote;
  while (!r.endpoint.url.empty() && r.endpoint.url.back() == '/') r.endpoint.url.pop_back();
  r.endpoint.protocol = c.remote_protocol;
  r.credentials.token = c.auth.token;
  r.credentials.token_url = c.auth.token_url;
  r.credentials.refresh_token = c.auth.refresh_token;
  r.credentials.token_file = c.state_dir + "/token.json";
  r.credentials.client_id = c.auth.client_id;
  r.credentials.client_secret = c.auth.client_secret;
  if (!c.auth.username.empty()) r.credentials.basic = c.auth.username + ":" + c.auth.password;
  r.client_id = client_id;
  r.pull_limit = c.sync.pull_limit;
  r.max_document_depth = static_cast<unsigned>(c.store.max_document_depth);
  // A quiet change-hint stream must send something well inside the transport's
  // low-speed timeout, or it is cut as stalled.
  r.hint_heartbeat_ms = std::clamp<int64_t>(c.http.low_speed_time_s * 1000 / 2, 500, 10000);
  return r;
}

Directions directions_from(const Config& c) {
  std::map<std::string, Direction> per_collection;
  for (const auto& [name, d] : c.sync.collections) {
    per_collection[name] = parse_direction(d).value_or(Direction::both);
  }
  return Directions(parse_direction(c.sync.default_direction).value_or(Direction::both),
                    std::move(per_collection));
}

SyncSettings sync_settings_from(const Config& c) {
  SyncSettings s;
  s.batch_size = c.sync.batch_size;
  s.batch_bytes = c.sync.batch_bytes;
  s.max_inflight = c.sync.max_inflight;
  s.pull_interval_ms = c.sync.pull_interval_s * 1000;
  s.backoff = BackoffPolicy{c.backoff.initial_ms, c.backoff.factor, c.backoff.max_ms,
                            c.backoff.max_retry_after_s * 1000};
  s.breaker_threshold = c.breaker.failure_threshold;
  s.breaker_cooldown_ms = c.breaker.cooldown_ms;
  auto policy = [](const std::string& strategy, const std::string& tiebreak) {
    return ConflictPolicy{parse_strategy(strategy).value_or(Strategy::merge),
                          tiebreak == "remote" ? Tiebreak::remote : Tiebreak::local};
  };
  std::map<std::string, ConflictPolicy> per_collection;
  for (const auto& [name, p] : c.conflicts.collections) {
    per_collection[name] = policy(p.strategy, p.merge_tiebreak);
  }
  s.conflicts = ConflictPolicies(policy(c.conflicts.strategy, c.conflicts.merge_tiebreak),
                                 std::move(per_collection));
  s.directions = directions_from(c);
  return s;
}

HttpSettings http_settings_from(const Config& c) {
  HttpSettings h;
  h.connect_timeout_ms = c.http.connect_timeout_ms;
  h.timeout_ms = c.http.timeout_ms;
  h.low_speed_time_s = c.http.low_speed_time_s;
  h.max_response_bytes = c.http.max_response_bytes;
  h.ca_file = c.tls.ca_file;
  h.client_cert = c.tls.client_cert;
  h.client_key = c.tls.client_key;
  for (const std::string& pin : c.tls.pinned_pubkeys) {
    h.pinned_pubkeys += (h.pinned_pubkeys.empty() ? "" : ";") + pin;
  }
  h.insecure_skip_verify = c.tls.insecure_skip_verify;
  return h;
}

std::string load_client_id(Database& db, Random& random) {
  MetaStore meta(db);
  if (auto id = meta.get("client_id")) return *id;
  std::string id = make_uuid4(random);
  Transaction tx(db);
  meta.set("client_id", id);
  tx.commit();
  return id;
}

// Everything that lives while the loop runs. Members are destroyed in reverse order,
// so the database outlives every user of it.
class Daemon {
 public:
  explicit Daemon(DaemonOptions options) : options_(std::move(options)) {}

  int run() {
    const Config& config = options_.config;
    apply_log_level(config);
    try {
      lock_ = std::make_unique<StateDirLock>(config.state_dir);
      open_store();
    } catch (const SqliteError& e) {
      if (e.is_corrupt()) {
        log_error(std::string(e.what()) +
                  "; refusing to start. Move the file aside (syncd then starts empty) or "
                  "restore a backup.");
      } else {
        log_error(e.what());
      }
      return 1;
    } catch (const std::exception& e) {
      log_error(e.what());
      return 1;
    }

    uv_loop_init(&loop_);
    handler_ = std::make_unique<RpcHandler>(*methods_, metrics_,
                                            static_cast<unsigned>(config.store.max_document_depth));
    journaled_->start(&loop_, db_->path(), [](const std::string& error) { log_error(error); });
    server_ =
        std::make_unique<IpcServer>(&loop_, *journaled_, *handler_, metrics_, limits_from(config));
    std::string serving = config.socket_path();
    try {
      if (auto activated = take_activated_socket()) {
        serving = activated->path.empty() ? "an unnamed socket systemd passed" : activated->path;
        if (!activated->path.empty() && activated->path != config.socket_path()) {
          log_warning("systemd passed the socket " + serving + ", not the configured " +
                      config.socket_path() + "; syncctl --socket " + serving + " reaches syncd");
        }
        server_->adopt(activated->fd, serving);
        serving += " (socket activation)";
      } else {
        server_->listen(config.socket_path());
      }
    } catch (const std::exception& e) {
      return refuse_start(e.what());
    }
    if (!config.metrics.listen.empty()) {
      metrics_endpoint_ =
          std::make_unique<MetricsEndpoint>(&loop_, [this] { return methods_->prometheus_text(); });
      try {
        metrics_endpoint_->listen(*parse_listen_address(config.metrics.listen, nullptr));
      } catch (const std::exception& e) {
        metrics_endpoint_->close();
        return refuse_start(e.what());
      }
      log_info("metrics on http://" + config.metrics.listen + "/metrics");
    }
    transport_ = std::make_unique<CurlTransport>(&loop_, http_settings_from(config));
    logged_transport_ = std::make_unique<LoggedTransport>(*transport_, clock_);
    remote_ = make_remote(*logged_transport_, *db_, clock_,
                          remote_settings_from(config, info_.client_id));
    // The config's own credentials were checked with it; these may come from the token
    // file, installed by syncctl auth before the remote became plain http://.
    if (auto why = credentials_transport_refusal(config);
        why && remote_->credentials().holds_secret()) {
      return refuse_start(*why + " (" + config.state_dir + "/token.json holds credentials)");
    }
    sync_ = std::make_unique<SyncEngine>(
        &loop_, *db_, *documents_, *queue_, *journaled_, *remote_, clock_, random_, ids_,
        sync_settings_from(config), [this](std::vector<RemoteChange> changes) {
          std::vector<ChangeEvent> events;
          for (auto& c : changes) {
            events.push_back(ChangeEvent{c.collection, c.id, std::move(c.data), "remote"});
          }
          server_->publish(events);
        });
    methods_->set_sync(sync_.get());
    server_->set_on_commit([this] { sync_->kick(); });
    // What a replay held (bodies, answers) was freed after the last trim.
    sync_->set_on_replay_drained([this] { server_->trim_memory_soon(); });
    sync_->start();
    netlink_ = std::make_unique<NetlinkMonitor>(&loop_, [this] { sync_->network_changed(); });
    if (auto why = netlink_->start()) {
      log_warning("no netlink route events (" + *why +
                  "); connectivity comes from health probes and request outcomes only");
    }
    start_signals();
    start_watchdog();
    start_status_updates();
    retry_returning_inflight();
    log_info("syncd " SYNCD_VERSION " serving " + serving + " (state " + config.state_dir +
             ", client " + info_.client_id + ", remote " + url_without_user_info(config.remote) +
             ")");
    sd_notify(0, "READY=1\nSTATUS=serving");

    uv_run(&loop_, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop_);
    if (rc != 0)
      log_warning(std::string("event loop closed with handles open: ") + uv_strerror(rc));
    log_info("stopped");
    return 0;
  }

 private:
  void open_store() {
    const Config& config = options_.config;
    const bool full_sync = config.store.synchronous == "full";
    for (const std::string& line : make_database_files_private(config.state_dir)) log_warning(line);
    db_ = std::make_unique<Database>(config.state_dir + "/syncd.db");
    prepare_database(*db_, full_sync ? SyncMode::full : SyncMode::normal);
    documents_ = std::make_unique<DocumentStore>(*db_);
    queue_ = std::make_unique<MutationQueue>(*db_);
    info_.client_id = load_client_id(*db_, random_);
    info_.started_monotonic_ms = clock_.monotonic_ms();
    info_.warnings = config_warnings(options_.config);
    for (const std::string& w : info_.warnings) log_warning(w);
    writes_ = std::make_unique<LocalWrites>(*documents_, *queue_, ids_, clock_,
                                            static_cast<size_t>(config.store.max_document_bytes));
    writes_->set_directions(directions_from(config));
    writes_->set_reserve_underscore_fields(config.remote_protocol == "couchdb");
    JournaledWritesOptions journal;
    journal.journal_path = config.state_dir + "/journal";
    journal.fsync = full_sync;
    journaled_ = std::make_unique<JournaledWrites>(*db_, *documents_, *queue_, *writes_, journal);
    if (!journaled_->recovery_warning().empty()) log_error(journaled_->recovery_warning());
    if (journaled_->recovered() > 0) {
      log_info("applied " + std::to_string(journaled_->recovered()) +
               " acknowledged writes from the journal");
    }
    inflight_returned_ = return_inflight();
    resolutions_ = std::make_unique<ResolutionLog>(*db_);
    methods_ = std::make_unique<Methods>(*documents_, *queue_, *journaled_, clock_, ids_, info_,
                                         metrics_, resolutions_.get());
    methods_->set_directions(directions_from(config));
    methods_->set_doctor_setup(doctor_setup_from(config));
    methods_->set_credentials_refusal(credentials_transport_refusal(config));
  }

  DoctorSetup doctor_setup_from(const Config& config) {
    DoctorSetup d;
    d.config_path = options_.config_path;
    d.reread_config = [this] { read_config_file(); };
    d.state_dir = config.state_dir;
    d.remote_url = url_without_user_info(config.remote);
    d.remote_protocol = config.remote_protocol;
    d.sends_credentials = has_credentials(config);
    d.allow_insecure_http = config.allow_insecure_http;
    d.tls_insecure_skip_verify = config.tls.insecure_skip_verify;
    d.tls_ca_file = config.tls.ca_file;
    d.tls_pinned_pubkeys = config.tls.pinned_pubkeys.size();
    d.tls_client_cert = !config.tls.client_cert.empty();
    return d;
  }

  // The config file as a restart would read it, with the command line's flags and the
  // secrets; throws saying what is wrong.
  Config read_config_file() const {
    Config fresh = load_config_file(options_.config_path);
    if (options_.overrides) options_.overrides(fresh);
    validate_config(fresh);
    // The secrets too, so an unchanged file does not read as a changed key.
    load_secrets(fresh, options_.config_path);
    return fresh;
  }

  // Leases do not survive a restart: inflight mutations go back to pending. On a full
  // disk that cannot be written yet; it is tried again every 2 s (their documents wait).
  bool return_inflight() {
    try {
      Transaction tx(*db_);
      int64_t recovered = queue_->recover_inflight();
      tx.commit();
      if (recovered > 0) {
        log_info("returned " + std::to_string(recovered) + " inflight mutations to pending");
      }
      return true;
    } catch (const SqliteError& e) {
      if (!e.is_full()) throw;
      if (!inflight_retry_started_) {
        log_warning(std::string("inflight mutations return to pending once there is room: ") +
                    e.what());
      }
      return false;
    }
  }

  void retry_returning_inflight() {
    if (inflight_returned_) return;
    uv_timer_init(&loop_, &inflight_retry_);
    inflight_retry_.data = this;
    inflight_retry_started_ = true;
    uv_timer_start(
        &inflight_retry_,
        [](uv_timer_t* t) {
          auto* self = static_cast<Daemon*>(t->data);
          bool done = false;
          try {
            done = self->return_inflight();
          } catch (const std::exception& e) {
            log_error(e.what());
          }
          if (done) {
            self->inflight_returned_ = true;
            uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
            self->sync_->kick();
          }
        },
        2000, 2000);
  }

  void start_signals() {
    for (auto [handle, signum] : {std::pair{&sigterm_, SIGTERM}, std::pair{&sigint_, SIGINT},
                                  std::pair{&sighup_, SIGHUP}}) {
      uv_signal_init(&loop_, handle);
      handle->data = this;
      uv_signal_start(handle, on_signal, signum);
    }
  }

  // A start that fails once the loop has handles: close them, stop the applier, exit 1.
  int refuse_start(const std::string& why) {
    log_error(why);
    server_->shutdown(0, [this] { journaled_->stop(); });
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return 1;
  }

  static void on_signal(uv_signal_t* handle, int signum) {
    auto* self = static_cast<Daemon*>(handle->data);
    if (signum == SIGHUP) {
      self->reload();
    } else {
      self->stop(signum == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  }

  void stop(const char* why) {
    if (stopping_) return;
    stopping_ = true;
    log_info(std::string(why) + ": stopping (answering frames already read, then closing)");
    sd_notify(0, "STOPPING=1");
    for (uv_signal_t* h : {&sigterm_, &sigint_, &sighup_}) {
      uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
    }
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(&watchdog_))) uv_timer_stop(&watchdog_);
    if (inflight_retry_started_ && !inflight_returned_) {
      inflight_returned_ = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&inflight_retry_), nullptr);
    }
    if (watchdog_started_) uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    if (status_timer_started_) uv_close(reinterpret_cast<uv_handle_t*>(&status_timer_), nullptr);
    server_->shutdown(kShutdownDrainMs, [this] { journaled_->stop(); });
    // Requests in flight are dropped: their mutations stay inflight on disk, return to
    // pending at the next start and are resent with the same ids (dedupe keeps them once).
    sync_->stop([this] { transport_->close([] {}); });
    netlink_->close(nullptr);
    if (metrics_endpoint_) metrics_endpoint_->close();
  }

  void reload() {
    if (options_.config_path.empty()) {
      log_info("SIGHUP: running on the embedded default config; nothing to reload");
      return;
    }
    sd_notify(0, "RELOADING=1");
    try {
      Config fresh = read_config_file();
      std::vector<std::string> changes = describe_changes(options_.config, fresh);
      if (changes.empty()) log_info("SIGHUP: config unchanged");
      for (const auto& change : changes) {
        // Applied at once: log_level, ipc.*, store.max_document_bytes and the sync
        // directions. The rest of the sync engine's settings are read when it starts.
        bool applied_now = change.rfind("log_level:", 0) == 0 ||
                           change.rfind("log_format:", 0) == 0 || change.rfind("ipc.", 0) == 0 ||
                           change.rfind("store.max_document_bytes:", 0) == 0 ||
                           change.rfind("sync.default_direction:", 0) == 0 ||
                           change.rfind("sync.collections:", 0) == 0;
        bool needs_restart = !applied_now;
        log_info("SIGHUP: " + change + (needs_restart ? " (takes effect at restart)" : ""));
      }
      // The running config takes only what applies now, so a later SIGHUP still lists
      // the changes that wait for a restart.
      Config& running = options_.config;
      running.log_level = fresh.log_level;
      running.log_format = fresh.log_format;
      running.ipc = fresh.ipc;
      running.store.max_document_bytes = fresh.store.max_document_bytes;
      running.sync.default_direction = fresh.sync.default_direction;
      running.sync.collections = fresh.sync.collections;
      apply_log_level(running);
      writes_->set_directions(directions_from(running));
      methods_->set_directions(directions_from(running));
      sync_->set_directions(directions_from(running));
      server_->set_limits(limits_from(running));
      writes_->set_max_document_bytes(static_cast<size_t>(running.store.max_document_bytes));
    } catch (const std::exception& e) {
      log_error(std::string("SIGHUP: reload refused, keeping the running config: ") + e.what());
    }
    sd_notify(0, "READY=1");
  }

  // `systemctl status syncd` shows connectivity and queue depth: a STATUS= line each time
  // they change, looked at every 2 s (a queue count costs about 20 ms per million, so
  // with a large queue less often: schedule_status).
  void start_status_updates() {
    const char* notify = std::getenv("NOTIFY_SOCKET");
    if (notify == nullptr || *notify == '\0') return;
    uv_timer_init(&loop_, &status_timer_);
    status_timer_.data = this;
    status_timer_started_ = true;
    schedule_status(0);
  }

  // Every 2 s, or less often when the queue count is slow (a large queue): it takes at
  // most 1 % of the loop.
  void schedule_status(uint64_t delay_ms) {
    uv_timer_start(
        &status_timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<Daemon*>(t->data);
          const int64_t started = self->clock_.monotonic_ms();
          try {
            self->send_status();
          } catch (const std::exception& e) {
            log_warning(std::string("status for systemd: ") + e.what());
          }
          const int64_t took = self->clock_.monotonic_ms() - started;
          self->schedule_status(static_cast<uint64_t>(std::max<int64_t>(2000, took * 100)));
        },
        delay_ms, 0);
  }

  void send_status() {
    const QueueCounts q = journaled_->counts();  // what status says: the journal counts too
    const SyncStatus s = sync_->status();
    std::string line = std::string(to_string(s.connectivity)) + "; queue " +
                       std::to_string(q.pending) + " pending, " + std::to_string(q.inflight) +
                       " inflight, " + std::to_string(q.failed) + " failed, " +
                       std::to_string(q.conflict) + " conflict";
    if (s.auth == "failed" || s.auth == "auth_failed") line += "; auth " + s.auth;
    if (line == last_status_) return;
    last_status_ = line;
    sd_notify(0, ("STATUS=" + line).c_str());
  }

  void start_watchdog() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    uv_timer_init(&loop_, &watchdog_);
    watchdog_started_ = true;
    uint64_t period_ms = std::max<uint64_t>(usec / 2000, 1);
    uv_timer_start(
        &watchdog_, [](uv_timer_t*) { sd_notify(0, "WATCHDOG=1"); }, 0, period_ms);
  }

  DaemonOptions options_;
  SystemClock clock_;
  Xoshiro256 random_ = Xoshiro256::from_entropy();
  Uuid7Generator ids_{clock_, random_};
  Metrics metrics_;
  DaemonInfo info_;
  std::unique_ptr<StateDirLock> lock_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<DocumentStore> documents_;
  std::unique_ptr<MutationQueue> queue_;
  std::unique_ptr<LocalWrites> writes_;
  std::unique_ptr<JournaledWrites> journaled_;
  std::unique_ptr<ResolutionLog> resolutions_;
  std::unique_ptr<Methods> methods_;
  std::unique_ptr<RpcHandler> handler_;
  uv_loop_t loop_{};
  std::unique_ptr<IpcServer> server_;
  std::unique_ptr<CurlTransport> transport_;
  std::unique_ptr<LoggedTransport> logged_transport_;
  std::unique_ptr<Remote> remote_;
  std::unique_ptr<SyncEngine> sync_;
  std::unique_ptr<NetlinkMonitor> netlink_;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
  uv_timer_t watchdog_{};
  uv_timer_t status_timer_{};
  bool status_timer_started_ = false;
  std::string last_status_;
  bool watchdog_started_ = false;
  uv_timer_t inflight_retry_{};
  bool inflight_returned_ = false;
  bool inflight_retry_started_ = false;
  bool stopping_ = false;
};

}  // namespace

int run_daemon(DaemonOptions options) {
  std::signal(SIGPIPE, SIG_IGN);
  // Every request allocates and frees RapidJSON's 64 KiB pool chunks. With glibc's
  // default dynamic trim threshold that top-of-heap memory went back to the kernel and
  // was faulted in again on every loop turn (brk + page faults were ~30% of the CPU
  // time under load, measured with perf in bench/ipc_write). A fixed threshold keeps a
  // few MiB of heap; RSS stays bounded by it.
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  std::unique_ptr<Daemon> daemon;
  try {
    daemon = std::make_unique<Daemon>(std::move(options));  // seeds its random source
  } catch (const std::exception& e) {
    log_error(e.what());
    return 1;
  }
  return daemon->run();
}

}  // namespace syncd
