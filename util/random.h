#pragma once
// The random source: ids, jitter. Injected so tests can seed it and get exact results.
#include <cstdint>

namespace syncd {

class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t next_u64() = 0;
};

// xoshiro256** (Blackman and Vigna): fast, good statistical quality, not for secrets.
class Xoshiro256 final : public Random {
 public:
  explicit Xoshiro256(uint64_t seed);
  // Seeded from the kernel's getrandom(2).
  static Xoshiro256 from_entropy();
  uint64_t next_u64() override;

 private:
  uint64_t s_[4];
};

}  // namespace syncd
