#pragma once
// `syncctl status` for people: the daemon's status result rendered to be read at a
// glance (state and since when, queue by state, oldest pending, last push and pull as
// local time and "N s ago", next retry, breaker, auth, last error, warnings), coloured
// when asked. Pure: the time now and the colour choice come in, so tests are exact.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/json.h"

namespace syncd {

std::string render_status(const JsonValue& status, int64_t now_ms, bool colour);

// "2026-12-03T13:22:17Z" (what syncd sends) as Unix ms; nullopt for anything else.
std::optional<int64_t> parse_rfc3339_utc(std::string_view text);

// A span for people: "0 s", "42 s", "3 min 5 s", "2 h 4 min", "3 d 1 h".
std::string span_text(int64_t ms);

// Colour for syncctl's output: only when stdout is a terminal, TERM is not "dumb" and
// NO_COLOR (https://no-color.org) is unset or empty.
bool colour_wanted();

}  // namespace syncd
