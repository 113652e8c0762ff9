#pragma once
// Collection names and document ids: 1-256 bytes of printable UTF-8.
#include <optional>
#include <string>
#include <string_view>

namespace syncd {

constexpr size_t kMaxKeyBytes = 256;

// nullopt when `key` is valid, else why not, e.g. "collection is empty".
std::optional<std::string> check_key(std::string_view key, std::string_view what);

}  // namespace syncd
