#pragma once
// Time as the rest of syncd sees it. Everything that needs "now" takes a Clock so
// tests can set the time exactly instead of sleeping.
#include <cstdint>

namespace syncd {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch: stored times, mutation ids.
  virtual int64_t now_ms() const = 0;
  // Monotonic milliseconds from an arbitrary origin: durations and deadlines.
  virtual int64_t monotonic_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
  int64_t monotonic_ms() const override;
};

// A clock that moves only when told to; both readings advance together.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  int64_t now_ms() const override { return now_ms_; }
  int64_t monotonic_ms() const override { return now_ms_; }
  void advance_ms(int64_t delta_ms) { now_ms_ += delta_ms; }
  void set_ms(int64_t now_ms) { now_ms_ = now_ms; }

 private:
  int64_t now_ms_;
};

}  // namespace syncd
