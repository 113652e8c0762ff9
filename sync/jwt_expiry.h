#pragma once
// When a bearer token that is a JWT (RFC 7519: three base64url parts) says it expires:
// its `exp` claim, decoded only. syncd never checks the signature: the server does, and
// the expiry only tells syncd when to refresh ahead of a refusal.
#include <cstdint>
#include <optional>
#include <string_view>

namespace syncd {

// The `exp` claim in Unix seconds; nullopt when `token` is not a JWT or has no usable exp.
std::optional<int64_t> jwt_expiry_s(std::string_view token);

}  // namespace syncd
