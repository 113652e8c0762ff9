#pragma once
// Log lines to stderr. Under systemd (JOURNAL_STREAM set) each line starts with the
// syslog priority prefix "<N>" that journald understands; otherwise with a UTC time. In
// the json format each line is one object {"time", "level", "message"} plus the line's
// fields (mutation_id, collection, http_status, ...), after the "<N>" prefix under
// systemd, which journald takes off. The text format shows the message only: a message
// already names what its fields hold.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace syncd {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3 };

enum class LogFormat { text, json };

bool parse_log_level(std::string_view text, LogLevel& out);
void set_log_level(LogLevel level);
void set_log_format(LogFormat format);
bool log_enabled(LogLevel level);

// A field of a log line: a name and a text or a number.
struct LogField {
  std::string_view name;
  std::variant<std::string, int64_t> value;
};
using LogFields = std::vector<LogField>;

void log_line(LogLevel level, std::string_view message, const LogFields& fields = {});
// The line log_line writes, without the journald prefix and time (for tests).
std::string format_log_json(std::string_view time, LogLevel level, std::string_view message,
                            const LogFields& fields);

inline void log_debug(std::string_view m, const LogFields& f = {}) {
  if (log_enabled(LogLevel::debug)) log_line(LogLevel::debug, m, f);
}
inline void log_info(std::string_view m, const LogFields& f = {}) {
  log_line(LogLevel::info, m, f);
}
inline void log_warning(std::string_view m, const LogFields& f = {}) {
  log_line(LogLevel::warning, m, f);
}
inline void log_error(std::string_view m, const LogFields& f = {}) {
  log_line(LogLevel::error, m, f);
}

}  // namespace syncd
