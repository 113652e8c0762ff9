// syncd: the offline-first sync daemon. Parses flags, loads the config, runs the daemon.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/secret_file.h"
#include "daemon/daemon.h"

namespace {

constexpr const char* kUsage = R"(usage: syncd [options]

Offline-first sync daemon: apps read and write JSON documents over a Unix socket;
every write is stored in SQLite with a durable mutation queue.

options:
  --config FILE      JSON config file (comments allowed); default: embedded defaults,
                     or $SYNCD_CONFIG when set
  --socket PATH      Unix socket to serve (default <state-dir>/syncd.sock)
  --state-dir DIR    database and lock directory (default ./.syncd)
  --remote URL       remote backend (default http://127.0.0.1:8787)
  --log-level LEVEL  debug, info, warning or error
  --log-format F     text (the default) or json: one object a line {time, level, message}
  --foreground       run in the foreground (always the case; for systemd Type=notify)
  --check-config     validate the config, print every key's effective value, exit
  --version          print the version and exit
  --help             this text

Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the config file.
)";

struct Flags {
  std::string config_path;
  std::vector<std::pair<std::string, std::string>> overrides;  // flag name -> value
  bool check_config = false;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "syncd: %s\n(see syncd --help)\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (const char* env = std::getenv("SYNCD_CONFIG"); env && *env) flags.config_path = env;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline = true;
    }
    auto take_value = [&]() -> bool {
      if (has_inline) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::printf("syncd %s\n", SYNCD_VERSION);
      return 0;
    } else if (arg == "--foreground") {
    } else if (arg == "--check-config") {
      flags.check_config = true;
    } else if (arg == "--config" || arg == "--socket" || arg == "--state-dir" ||
               arg == "--remote" || arg == "--log-level" || arg == "--log-format") {
      if (!take_value()) return usage_error(arg + " needs a value");
      if (arg == "--config") {
        flags.config_path = value;
      } else {
        flags.overrides.emplace_back(arg, value);
      }
    } else {
      return usage_error("unknown option " + arg);
    }
  }

  auto apply_overrides = [overrides = flags.overrides](syncd::Config& c) {
    for (const auto& [name, value] : overrides) {
      if (name == "--socket")
        c.socket = value;
      else if (name == "--state-dir")
        c.state_dir = value;
      else if (name == "--remote")
        c.remote = value;
      else if (name == "--log-level") {
        if (value != "debug" && value != "info" && value != "warning" && value != "error") {
          throw syncd::ConfigError(
              "--log-level: expected one of debug, info, warning, error, got \"" + value + "\"");
        }
        c.log_level = value;
      } else if (name == "--log-format") {
        if (value != "text" && value != "json") {
          throw syncd::ConfigError("--log-format: expected text or json, got \"" + value + "\"");
        }
        c.log_format = value;
      }
    }
    syncd::validate_config(c);
  };

  syncd::Config config;
  try {
    if (!flags.config_path.empty()) config = syncd::load_config_file(flags.config_path);
    apply_overrides(config);
    syncd::load_secrets(config, flags.config_path);
  } catch (const syncd::ConfigError& e) {
    std::fprintf(stderr, "syncd: invalid config: %s\n", e.what());
    return flags.check_config ? 1 : 2;
  }
  if (flags.check_config) {
    std::printf("config OK (%s)\n",
                flags.config_path.empty() ? "embedded defaults" : flags.config_path.c_str());
    for (const auto& [key, value] : syncd::flatten_config(config)) {
      const bool secret = syncd::is_secret_key(key) && value != "\"\"";
      std::printf("%s = %s\n", key.c_str(), secret ? "(set)" : value.c_str());
    }
    for (const std::string& w : syncd::config_warnings(config)) {
      std::fprintf(stderr, "syncd: warning: %s\n", w.c_str());
    }
    return 0;
  }
  return syncd::run_daemon({config, flags.config_path, apply_overrides});
}
