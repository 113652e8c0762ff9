#pragma once
// Mutation ids: UUIDv7 (RFC 9562) strings that sort in creation order, also when many
// are made in one millisecond or the wall clock steps back (a 42-bit counter, method 1
// of RFC 9562 section 6.2, carries the order).
#include <cstdint>
#include <string>

#include "util/clock.h"
#include "util/random.h"

namespace syncd {

class Uuid7Generator {
 public:
  Uuid7Generator(const Clock& clock, Random& random) : clock_(clock), random_(random) {}
  std::string next();

 private:
  const Clock& clock_;
  Random& random_;
  int64_t last_ms_ = -1;
  uint64_t counter_ = 0;  // 42 bits: rand_a (12) and the top 30 bits of rand_b
};

// A random (version 4) UUID string, for the client id.
std::string make_uuid4(Random& random);

}  // namespace syncd
