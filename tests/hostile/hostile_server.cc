#include "tests/hostile/hostile_server.h"

#include <signal.h>

namespace syncd::testing {

HostileServer::HostileServer(const TempDir& dir, std::string script_json)
    : script_(std::move(script_json)),
      port_file_(dir.file("hostile.port")),
      control_path_(dir.file("hostile.ctl")),
      log_path_(dir.file("hostile.log")) {}

HostileServer::~HostileServer() { stop(); }

bool HostileServer::start() {
  port_ = start_python_server(process_,
                              {source_dir() + "/tests/hostile/hostile_server.py", "--port-file",
                               port_file_, "--control", control_path_, "--script", script_},
                              port_file_, log_path_);
  return port_ > 0;
}

void HostileServer::stop() {
  if (process_ && process_->running()) {
    process_->signal(SIGKILL);
    process_->wait_exit(Millis(5000));
  }
}

bool HostileServer::set_script(const std::string& script_json) {
  return control_command(control_path_, "script " + script_json) == "ok";
}

namespace {
JsonDocument stats_of(const std::string& control_path) {
  JsonDocument doc;
  if (parse_json(control_command(control_path, "stats"), doc) || !doc.IsObject()) doc.SetNull();
  return doc;
}
}  // namespace

int64_t HostileServer::requests(const std::string& path) {
  JsonDocument stats = stats_of(control_path_);
  if (!stats.IsObject()) return -1;
  const JsonValue& counts = stats["requests"];
  auto it = counts.FindMember(path.c_str());
  return it == counts.MemberEnd() ? 0 : it->value.GetInt64();
}

int64_t HostileServer::connections() {
  JsonDocument stats = stats_of(control_path_);
  return stats.IsObject() ? stats["connections"].GetInt64() : -1;
}

}  // namespace syncd::testing
