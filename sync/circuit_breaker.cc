#include "sync/circuit_breaker.h"

namespace syncd {

const char* to_string(BreakerState state) {
  switch (state) {
    case BreakerState::closed:
      return "closed";
    case BreakerState::open:
      return "open";
    case BreakerState::half_open:
      return "half_open";
  }
  return "?";
}

bool CircuitBreaker::allow_request() {
  switch (state_) {
    case BreakerState::closed:
      return true;
    case BreakerState::open:
      if (clock_.monotonic_ms() - opened_at_ms_ < cooldown_ms_) return false;
      state_ = BreakerState::half_open;
      probe_in_flight_ = true;
      return true;
    case BreakerState::half_open:
      if (probe_in_flight_) return false;
      probe_in_flight_ = true;
      return true;
  }
  return false;
}

bool CircuitBreaker::would_allow() const {
  switch (state_) {
    case BreakerState::closed:
      return true;
    case BreakerState::open:
      return clock_.monotonic_ms() - opened_at_ms_ >= cooldown_ms_;
    case BreakerState::half_open:
      return !probe_in_flight_;
  }
  return false;
}

void CircuitBreaker::record_success() {
  state_ = BreakerState::closed;
  failures_ = 0;
  probe_in_flight_ = false;
}

void CircuitBreaker::record_failure() {
  ++failures_;
  probe_in_flight_ = false;
  if (state_ == BreakerState::half_open ||
      (state_ == BreakerState::closed && failures_ >= failure_threshold_)) {
    state_ = BreakerState::open;
    opened_at_ms_ = clock_.monotonic_ms();
  }
}

std::optional<int64_t> CircuitBreaker::probe_at_ms() const {
  if (state_ != BreakerState::open) return std::nullopt;
  return opened_at_ms_ + cooldown_ms_;
}

}  // namespace syncd
