#pragma once
// CRC-32C (Castagnoli), the checksum of journal records: a torn or stale record fails it.
#include <cstddef>
#include <cstdint>

namespace syncd {

// Extends `crc` (0 to start) over `size` bytes at `data`.
uint32_t crc32c(uint32_t crc, const void* data, size_t size);

}  // namespace syncd
