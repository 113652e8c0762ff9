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

namespace {
constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
}

std::string format_log_json(std::string_view time, LogLevel level, std::string_view message,
                            const LogFields& fields) {
  std::string line = R"({"time":")";
  line += time;
  line += R"(","level":")";
  line += kNames[static_cast<int>(level)];
  line += R"(","message":)";
  line += json_quote(well_formed_utf8(message));
  for (const LogField& f : fields) {
    line += ',';
    line += json_quote(f.name);
    line += ':';
    if (const auto* n = std::get_if<int64_t>(&f.value)) {
      line += std::to_string(*n);
    } else {
      line += json_quote(well_formed_utf8(std::get<std::string>(f.value)));
    }
  }
  line += '}';
  return line;
}

void log_line(LogLevel level, std::string_view message, const LogFields& fields) {
  if (!log_enabled(level)) return;
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
    line += format_log_json(stamp, level, message, fields);
    line += '\n';
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
