#pragma once
// Base64 (RFC 4648 section 4, with padding), for HTTP basic credentials; and the
// decoding of base64url (section 5, padding optional), for the claims of a JWT.
#include <optional>
#include <string>
#include <string_view>

namespace syncd {

std::string base64_encode(std::string_view bytes);

// The bytes `text` encodes in base64url; nullopt when it is not base64url.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace syncd
