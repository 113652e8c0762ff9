#pragma once
// A circuit breaker for the remote: closed (requests flow) until `failure_threshold`
// consecutive failures open it; while open nothing is sent; after `cooldown_ms` one
// probe is let through (half-open); its success closes the breaker, its failure opens
// it for another cool-down. Time comes from the injected Clock.
#include <cstdint>
#include <optional>

#include "util/clock.h"

namespace syncd {

enum class BreakerState { closed, open, half_open };
const char* to_string(BreakerState state);

class CircuitBreaker {
 public:
  CircuitBreaker(int64_t failure_threshold, int64_t cooldown_ms, const Clock& clock)
      : failure_threshold_(failure_threshold), cooldown_ms_(cooldown_ms), clock_(clock) {}

  // True when a request may go now. In open state past the cool-down this admits one
  // probe and moves to half-open; further calls return false until it is reported.
  bool allow_request();
  // What allow_request() would answer, without taking the half-open probe slot.
  bool would_allow() const;
  void record_success();
  void record_failure();

  BreakerState state() const { return state_; }
  // When an open breaker admits its probe (monotonic ms); nullopt unless open.
  std::optional<int64_t> probe_at_ms() const;

 private:
  int64_t failure_threshold_;
  int64_t cooldown_ms_;
  const Clock& clock_;
  BreakerState state_ = BreakerState::closed;
  int64_t failures_ = 0;
  int64_t opened_at_ms_ = 0;
  bool probe_in_flight_ = false;
};

}  // namespace syncd
