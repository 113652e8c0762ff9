#pragma once
// Percent-encoding (RFC 3986 section 2.1) of everything but the unreserved characters:
// for a query parameter or a form field, whatever bytes the value holds.
#include <string>
#include <string_view>

namespace syncd {

std::string url_encode(std::string_view s);

}  // namespace syncd
