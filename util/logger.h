#pragma once
// Log lines to stderr. Under systemd (JOURNAL_STREAM set) each line starts with the
// syslog priority prefix "<N>" that journald understands; otherwise with a UTC time. In
// the json format each line is one object {"time", "level", "message"} (after the "<N>"
// prefix under systemd, which journald takes off).
#include <string>
#include <string_view>

namespace syncd {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3 };

enum class LogFormat { text, json };

bool parse_log_level(std::string_view text, LogLevel& out);
void set_log_level(LogLevel level);
void set_log_format(LogFormat format);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, std::string_view message);

inline void log_debug(std::string_view m) {
  if (log_enabled(LogLevel::debug)) log_line(LogLevel::debug, m);
}
inline void log_info(std::string_view m) { log_line(LogLevel::info, m); }
inline void log_warning(std::string_view m) { log_line(LogLevel::warning, m); }
inline void log_error(std::string_view m) { log_line(LogLevel::error, m); }

}  // namespace syncd
