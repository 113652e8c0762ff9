#pragma once
// Drives tests/hostile/hostile_server.py, a backend that answers syncd badly on purpose
// as a test scripts it (see the script's docstring for the modes), and reads the
// requests it counted. Stopped with SIGKILL, so its port is free at once for the
// reference server that takes over in a test's recovery step.
#include <cstdint>
#include <memory>
#include <string>

#include "tests/integration/harness.h"

namespace syncd::testing {

class HostileServer {
 public:
  HostileServer(const TempDir& dir, std::string script_json);
  ~HostileServer();
  bool start();
  void stop();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool set_script(const std::string& script_json);
  // Requests it answered (or began to) for `path` since it started; -1 when unknown.
  int64_t requests(const std::string& path);
  // TCP connections it accepted since it started; -1 when unknown.
  int64_t connections();
  std::string log() const { return read_file(log_path_); }

 private:
  std::string script_;
  std::string port_file_;
  std::string control_path_;
  std::string log_path_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace syncd::testing
