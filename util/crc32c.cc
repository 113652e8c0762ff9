#include "util/crc32c.h"

#include <array>
#include <cstring>

namespace syncd {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // reflected Castagnoli

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

uint32_t crc32c_table(uint32_t crc, const unsigned char* bytes, size_t size) {
  for (size_t i = 0; i < size; ++i) crc = kTable[(crc ^ bytes[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// The CPU's crc32 instruction computes this very polynomial, 8 bytes at a time.
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t crc, const unsigned char* bytes,
                                                        size_t size) {
  uint64_t c = crc;
  for (; size >= 8; bytes += 8, size -= 8) {
    uint64_t word;
    std::memcpy(&word, bytes, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  crc = static_cast<uint32_t>(c);
  for (; size > 0; ++bytes, --size) crc = __builtin_ia32_crc32qi(crc, *bytes);
  return crc;
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  if (kHaveSse42) return ~crc32c_sse42(~crc, bytes, size);
#endif
  return ~crc32c_table(~crc, bytes, size);
}

uint32_t crc32c_portable(uint32_t crc, const void* data, size_t size) {
  return ~crc32c_table(~crc, static_cast<const unsigned char*>(data), size);
}

}  // namespace syncd
