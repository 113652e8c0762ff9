#pragma once
// Base64 (RFC 4648 section 4, with padding), for HTTP basic credentials.
#include <string>
#include <string_view>

namespace syncd {

std::string base64_encode(std::string_view bytes);

}  // namespace syncd
