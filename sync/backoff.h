#pragma once
// Retry delays: exponential backoff with full jitter (a uniformly random delay between
// 0 and min(max, initial * factor^(failures-1))), and the server's Retry-After wins when
// it asks for longer, up to max_retry_after_ms (a server may ask for years). The random
// source is injected so tests see exact schedules.
#include <cstdint>
#include <optional>

#include "util/random.h"

namespace syncd {

struct BackoffPolicy {
  int64_t initial_ms = 1000;
  double factor = 2.0;
  int64_t max_ms = 60000;
  int64_t max_retry_after_ms = 3600 * 1000;
};

class Backoff {
 public:
  Backoff(BackoffPolicy policy, Random& random) : policy_(policy), random_(random) {}

  // The ceiling of the jitter after `failures` consecutive failures (1 = the first).
  int64_t ceiling_ms(int failures) const;
  // The delay before the next attempt; `retry_after_ms` is the server's hint, if any.
  int64_t delay_ms(int failures, std::optional<int64_t> retry_after_ms = std::nullopt);
  int64_t max_retry_after_ms() const { return policy_.max_retry_after_ms; }

 private:
  BackoffPolicy policy_;
  Random& random_;
};

}  // namespace syncd
