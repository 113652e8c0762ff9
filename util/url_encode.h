#pragma once
// Percent-encoding (RFC 3986 section 2.1) of everything but the unreserved characters,
// for a query parameter or a form field whatever bytes the value holds; and a URL with
// its credentials taken out, for showing it; a URL's host, and whether it is loopback.
#include <string>
#include <string_view>

namespace syncd {

std::string url_encode(std::string_view s);

// `url` without the user info of its authority ("https://user:pw@host/p" ->
// "https://host/p"), for a log line or a status text.
std::string url_without_user_info(const std::string& url);

// The host of `url`'s authority, without user info, port or IPv6 brackets, lower-cased
// ("https://u@[::1]:8443/db" -> "::1"); "" when it has none.
std::string url_host(const std::string& url);

// "localhost", a 127.0.0.0/8 address or "::1": traffic that never leaves the machine.
bool is_loopback_host(const std::string& host);

}  // namespace syncd
