#pragma once
// Fixed-width little-endian integers in byte buffers: the journal's record headers and
// the write records inside them, readable on any host.
#include <cstdint>
#include <string>

namespace syncd {

template <typename T>
void store_le(char* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

template <typename T>
T load_le(const char* in) {
  T value = 0;
  for (size_t i = sizeof(T); i-- > 0;) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

template <typename T>
void append_le(std::string& out, T value) {
  char bytes[sizeof(T)];
  store_le(bytes, value);
  out.append(bytes, sizeof bytes);
}

}  // namespace syncd
