#include "store/key_filter.h"

#include <algorithm>

namespace syncd {
namespace {

struct Hashes {
  uint64_t first;
  uint64_t step;
};

uint64_t mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Hashes hash_key(std::string_view collection, std::string_view id) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over collection, a 0 byte, id
  auto feed = [&h](std::string_view text) {
    for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  };
  feed(collection);
  h = (h ^ 0) * 0x100000001b3ULL;
  feed(id);
  const uint64_t first = mix(h);
  return Hashes{first, mix(first ^ 0x9e3779b97f4a7c15ULL) | 1};
}

}  // namespace

KeyFilter::KeyFilter(size_t capacity) : capacity_(std::max<size_t>(capacity, 1024)) {
  bits_ = static_cast<uint64_t>(capacity_) * 10;  // ~1% at 7 hashes
  words_.assign(static_cast<size_t>((bits_ + 63) / 64), 0);
}

void KeyFilter::add(std::string_view collection, std::string_view id) {
  Hashes h = hash_key(collection, id);
  bool fresh = false;
  for (int i = 0; i < kHashes; ++i) {
    uint64_t bit = (h.first + static_cast<uint64_t>(i) * h.step) % bits_;
    uint64_t& word = words_[bit / 64];
    const uint64_t mask = uint64_t{1} << (bit % 64);
    fresh = fresh || (word & mask) == 0;
    word |= mask;
  }
  if (fresh) ++added_;  // a key added again (or a false positive) does not fill it further
}

bool KeyFilter::may_contain(std::string_view collection, std::string_view id) const {
  Hashes h = hash_key(collection, id);
  for (int i = 0; i < kHashes; ++i) {
    uint64_t bit = (h.first + static_cast<uint64_t>(i) * h.step) % bits_;
    if ((words_[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

}  // namespace syncd
