#include "sync/jwt_expiry.h"

#include "util/base64.h"
#include "util/json.h"

namespace syncd {

std::optional<int64_t> jwt_expiry_s(std::string_view token) {
  const size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const auto claims = base64url_decode(token.substr(first + 1, second - first - 1));
  JsonDocument doc;
  if (!claims || parse_json(*claims, doc) || !doc.IsObject()) return std::nullopt;
  const auto exp = doc.FindMember("exp");
  if (exp == doc.MemberEnd() || !exp->value.IsNumber()) return std::nullopt;
  const double seconds = exp->value.GetDouble();
  // Beyond year 9999 or before 1970 is not an expiry to plan by.
  if (!(seconds > 0 && seconds < 253402300800.0)) return std::nullopt;
  return static_cast<int64_t>(seconds);
}

}  // namespace syncd
