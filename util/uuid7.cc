#include "util/uuid7.h"

#include <cstdio>

namespace syncd {
namespace {
constexpr uint64_t kCounterBits = 42;
constexpr uint64_t kCounterMask = (uint64_t{1} << kCounterBits) - 1;

std::string format_uuid(uint64_t hi, uint64_t lo) {
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return out;
}
}  // namespace

std::string Uuid7Generator::next() {
  int64_t ms = clock_.now_ms();
  if (ms > last_ms_) {
    last_ms_ = ms;
    // Start low in the counter space so that many ids fit in the same millisecond.
    counter_ = random_.next_u64() & (kCounterMask >> 2);
  } else {
    ++counter_;
    if (counter_ > kCounterMask) {  // exhausted: borrow the next millisecond
      ++last_ms_;
      counter_ = 0;
    }
  }
  const uint64_t ts = static_cast<uint64_t>(last_ms_) & 0xffffffffffffULL;
  const uint64_t rand_a = counter_ >> 30;
  const uint64_t hi = (ts << 16) | (uint64_t{7} << 12) | rand_a;
  const uint64_t lo = (uint64_t{2} << 62) | ((counter_ & 0x3fffffffULL) << 32) |
                      (random_.next_u64() & 0xffffffffULL);
  return format_uuid(hi, lo);
}

std::string make_uuid4(Random& random) {
  uint64_t hi = random.next_u64();
  uint64_t lo = random.next_u64();
  hi = (hi & ~0xf000ULL) | 0x4000ULL;
  lo = (lo & ~(uint64_t{3} << 62)) | (uint64_t{2} << 62);
  return format_uuid(hi, lo);
}

}  // namespace syncd
