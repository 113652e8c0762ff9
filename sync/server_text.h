#pragma once
// Text that came from a server (an error page, a rejection message, an unknown field of
// the event stream) on its way to a user: into status, the log, a dead letter's error.
// A server may send any bytes in any amount, so it is cut to a length and kept to
// printable ASCII: status stays valid JSON and a terminal shows no escape sequences.
#include <cstddef>
#include <string>
#include <string_view>

namespace syncd {

// At most `max_bytes` of `text` (then "..."), newlines and tabs as spaces, any other
// byte outside printable ASCII as '?'.
std::string server_text(std::string_view text, size_t max_bytes = 200);

}  // namespace syncd
