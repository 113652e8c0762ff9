#include "store/key_filter.h"

#include <algorithm>

namespace syncd {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A bit in [0, bits) from a 64-bit hash by a multiply, not a division (it showed up in
// the write path's profile).
uint64_t pick(uint64_t hash, uint64_t bits) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(hash) * bits) >> 64);
}

}  // namespace

KeyFilter::Hashes KeyFilter::hash_key(std::string_view collection, std::string_view id) {
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

KeyFilter::Layer::Layer(size_t layer_capacity) : capacity(std::max<size_t>(layer_capacity, 1024)) {
  bits = static_cast<uint64_t>(capacity) * 10;  // ~1% at 7 hashes
  words.assign(static_cast<size_t>((bits + 63) / 64), 0);
}

void KeyFilter::Layer::add(const Hashes& h) {
  for (int i = 0; i < kHashes; ++i) {
    uint64_t bit = pick(h.first + static_cast<uint64_t>(i) * h.step, bits);
    words[bit / 64] |= uint64_t{1} << (bit % 64);
  }
  ++added;
}

bool KeyFilter::Layer::may_contain(const Hashes& h) const {
  for (int i = 0; i < kHashes; ++i) {
    uint64_t bit = pick(h.first + static_cast<uint64_t>(i) * h.step, bits);
    if ((words[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

KeyFilter::KeyFilter(size_t capacity) { layers_.emplace_back(capacity); }

bool KeyFilter::any_layer_may_contain(const Hashes& h) const {
  for (const Layer& layer : layers_) {
    if (layer.may_contain(h)) return true;
  }
  return false;
}

bool KeyFilter::add(std::string_view collection, std::string_view id) {
  Hashes h = hash_key(collection, id);
  if (any_layer_may_contain(h)) return true;
  if (layers_.back().added >= layers_.back().capacity) {
    layers_.emplace_back(2 * layers_.back().capacity);
  }
  layers_.back().add(h);  // a key some layer may hold is not added again
  return false;
}

bool KeyFilter::may_contain(std::string_view collection, std::string_view id) const {
  return any_layer_may_contain(hash_key(collection, id));
}

size_t KeyFilter::added() const {
  size_t total = 0;
  for (const Layer& layer : layers_) total += layer.added;
  return total;
}

}  // namespace syncd
