#include "util/logger.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "util/json.h"

namespace syncd {
namespace {
LogLevel g_level = LogLevel::info;
LogFormat g_format = LogFormat::text;
const bool g_journal = std::getenv("JOURNAL_STREAM") != nullptr;
}  // namespace

bool parse_log_level(std::string_view text, LogLevel& out) {
  if (text == "debug")
    out = LogLevel::debug;
  else if (text == "info")
    out = LogLevel::info;
  else if (text == "warning")
    out = LogLevel::warning;
  else if (text == "error")
    out = LogLevel::error;
  else
    return false;
  return true;
}

void set_log_level(LogLevel level) { g_level = level; }
void set_log_format(LogFormat format) { g_format = format; }
bool log_enabled(LogLevel level) { return level >= g_level; }

void log_line(LogLevel level, std::string_view message) {
  if (!log_enabled(level)) return;
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  static constexpr int kSyslog[] = {7, 6, 4, 3};
  const int index = static_cast<int>(level);
  std::string line;
  if (g_journal) line = "<" + std::to_string(kSyslog[index]) + ">";
  char stamp[40] = "";
  if (!g_journal || g_format == LogFormat::json) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    gmtime_r(&ts.tv_sec, &utc);
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1'000'000);
  }
  if (g_format == LogFormat::json) {
    line += R"({"time":")";
    line += stamp;
    line += R"(","level":")";
    line += kNames[index];
    line += R"(","message":)";
    line += json_quote(well_formed_utf8(message));
    line += "}\n";
  } else {
    if (!g_journal) {
      line += stamp;
      line += ' ';
    }
    line += kNames[index];
    line += ": ";
    line += message;
    line += '\n';
  }
  fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace syncd
