#include "cli/status_view.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace syncd {
namespace {

constexpr const char* kRed = "\x1b[31m";
constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kReset = "\x1b[0m";

std::string text_of(const JsonValue& status, const char* name) {
  auto it = status.FindMember(name);
  if (it == status.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

int64_t int_of(const JsonValue& obj, const char* name) {
  if (!obj.IsObject()) return 0;
  auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

// Local time of day, with the date when it is not today.
std::string local_time(int64_t at_ms, int64_t now_ms) {
  const time_t at = static_cast<time_t>(at_ms / 1000);
  const time_t now = static_cast<time_t>(now_ms / 1000);
  tm at_tm{};
  tm now_tm{};
  localtime_r(&at, &at_tm);
  localtime_r(&now, &now_tm);
  const bool today = at_tm.tm_year == now_tm.tm_year && at_tm.tm_yday == now_tm.tm_yday;
  char out[40];
  strftime(out, sizeof out, today ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &at_tm);
  return out;
}

// "13:22:17 (5 s ago)", "13:22:40 (in 18 s)", or "never".
std::string when(const std::string& rfc3339, int64_t now_ms, const char* none = "never") {
  const std::optional<int64_t> at = parse_rfc3339_utc(rfc3339);
  if (!at) return rfc3339.empty() ? none : rfc3339;
  const int64_t delta = now_ms - *at;
  return local_time(*at, now_ms) +
         (delta >= 0 ? " (" + span_text(delta) + " ago)" : " (in " + span_text(-delta) + ")");
}

}  // namespace

std::optional<int64_t> parse_rfc3339_utc(std::string_view text) {
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z') {
    return std::nullopt;
  }
  auto number = [&](size_t at, size_t digits) -> int {
    int n = 0;
    for (size_t i = at; i < at + digits; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      n = n * 10 + (text[i] - '0');
    }
    return n;
  };
  tm t{};
  t.tm_year = number(0, 4) - 1900;
  t.tm_mon = number(5, 2) - 1;
  t.tm_mday = number(8, 2);
  t.tm_hour = number(11, 2);
  t.tm_min = number(14, 2);
  t.tm_sec = number(17, 2);
  if (t.tm_year < 0 || t.tm_mon < 0 || t.tm_mon > 11 || t.tm_mday < 1 || t.tm_mday > 31 ||
      t.tm_hour < 0 || t.tm_hour > 23 || t.tm_min < 0 || t.tm_min > 59 || t.tm_sec < 0 ||
      t.tm_sec > 60) {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&t)) * 1000;
}

std::string span_text(int64_t ms) {
  const int64_t s = ms / 1000;
  auto two = [](int64_t big, const char* big_unit, int64_t small, const char* small_unit) {
    std::string out = std::to_string(big) + " " + big_unit;
    if (small > 0) out += " " + std::to_string(small) + " " + small_unit;
    return out;
  };
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return two(s / 60, "min", s % 60, "s");
  if (s < 86400) return two(s / 3600, "h", s % 3600 / 60, "min");
  return two(s / 86400, "d", s % 86400 / 3600, "h");
}

bool colour_wanted() {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour && *no_colour) return false;
  const char* term = std::getenv("TERM");
  if (term && std::strcmp(term, "dumb") == 0) return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

std::string render_status(const JsonValue& status, int64_t now_ms, bool colour) {
  auto paint_if = [colour](bool wanted, const std::string& text, const char* code) {
    return colour && wanted ? code + text + kReset : text;
  };
  auto paint = [&](const std::string& text, const char* code) {
    return paint_if(true, text, code);
  };
  std::string out;
  auto line = [&out](const char* key, const std::string& value) {
    char padded[16];
    std::snprintf(padded, sizeof padded, "%-13s", key);
    out += padded + value + "\n";
  };
  out += "syncd " + text_of(status, "version") + ", client " + text_of(status, "client_id") +
         ", up " + span_text(int_of(status, "uptime_s") * 1000) + "\n";

  const std::string state = text_of(status, "connectivity");
  const char* state_colour = state == "online" ? kGreen : state == "degraded" ? kYellow : kRed;
  std::string since = text_of(status, "connectivity_since");
  line("state",
       paint(state, state_colour) + (since.empty() ? "" : " since " + when(since, now_ms)));

  static const JsonValue kNone;
  const JsonValue& q = status.HasMember("queue") ? status["queue"] : kNone;
  const int64_t failed = int_of(q, "failed");
  const int64_t conflict = int_of(q, "conflict");
  std::string queue = std::to_string(int_of(q, "pending")) + " pending, " +
                      std::to_string(int_of(q, "inflight")) + " inflight, " +
                      paint_if(failed > 0, std::to_string(failed) + " failed", kRed) + ", " +
                      paint_if(conflict > 0, std::to_string(conflict) + " conflict", kYellow);
  auto oldest = status.FindMember("oldest_pending_age_s");
  if (oldest != status.MemberEnd() && oldest->value.IsInt64()) {
    queue += "; oldest pending " + span_text(oldest->value.GetInt64() * 1000);
  }
  line("queue", queue);
  line("last push", when(text_of(status, "last_push"), now_ms));
  line("last pull", when(text_of(status, "last_pull"), now_ms));
  line("next retry", when(text_of(status, "next_retry"), now_ms, "-"));
  const std::string breaker = text_of(status, "breaker");
  line("breaker", breaker == "closed" ? breaker : paint(breaker, kRed));
  const std::string auth = text_of(status, "auth");
  line("auth", auth == "failed" || auth == "auth_failed" ? paint(auth, kRed) : auth);
  const std::string error = text_of(status, "last_error");
  if (!error.empty()) {
    const std::string at = text_of(status, "last_error_at");
    line("last error", paint(error, kRed) + (at.empty() ? "" : " (" + when(at, now_ms) + ")"));
  } else {
    line("last error", "-");
  }
  auto warnings = status.FindMember("warnings");
  if (warnings != status.MemberEnd() && warnings->value.IsArray()) {
    for (const auto& w : warnings->value.GetArray()) {
      if (w.IsString()) line("warning", paint(w.GetString(), kYellow));
    }
  }
  return out;
}

}  // namespace syncd
