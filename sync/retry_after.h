#pragma once
// The Retry-After header (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date
// (IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept).
#include <cstdint>
#include <optional>
#include <string_view>

namespace syncd {

// Milliseconds to wait from `now_ms`; 0 for a date in the past; nullopt when the value
// is neither form.
std::optional<int64_t> parse_retry_after_ms(std::string_view value, int64_t now_ms);

// An HTTP-date as Unix milliseconds, or nullopt.
std::optional<int64_t> parse_http_date_ms(std::string_view value);

}  // namespace syncd
