#include "sync/backoff.h"

#include <algorithm>
#include <cmath>

namespace syncd {

int64_t Backoff::ceiling_ms(int failures) const {
  if (failures < 1) return 0;
  // Computed in floating point and clamped before converting: factor^n overflows fast.
  double ceiling = static_cast<double>(policy_.initial_ms) *
                   std::pow(policy_.factor, static_cast<double>(failures - 1));
  if (!(ceiling < static_cast<double>(policy_.max_ms))) return policy_.max_ms;
  return static_cast<int64_t>(ceiling);
}

int64_t Backoff::delay_ms(int failures, std::optional<int64_t> retry_after_ms) {
  const int64_t ceiling = ceiling_ms(failures);
  // Uniform in [0, ceiling]: the top 53 bits of the random word as a fraction.
  const double unit = static_cast<double>(random_.next_u64() >> 11) * 0x1.0p-53;
  int64_t jittered = static_cast<int64_t>(unit * static_cast<double>(ceiling + 1));
  jittered = std::min(jittered, ceiling);
  if (retry_after_ms && *retry_after_ms > jittered) {
    return std::min(*retry_after_ms, std::max(policy_.max_retry_after_ms, jittered));
  }
  return jittered;
}

}  // namespace syncd
