#include "util/uuid7.h"

namespace syncd {
namespace {
constexpr uint64_t kCounterBits = 42;
constexpr uint64_t kCounterMask = (uint64_t{1} << kCounterBits) - 1;

// 8-4-4-4-12 lowercase hex digits (by hand: snprintf showed up in the write path's profile).
std::string format_uuid(uint64_t hi, uint64_t lo) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t at = 0;
  for (int i = 0; i < 32; ++i) {
    if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
    const uint64_t word = i < 16 ? hi : lo;
    out[at++] = kHex[(word >> (60 - 4 * (i % 16))) & 0xf];
  }
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
