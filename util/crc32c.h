#pragma once
// CRC-32C (Castagnoli), the checksum of journal records: a torn or stale record fails it.
#include <cstddef>
#include <cstdint>

namespace syncd {

// Extends `crc` (0 to start) over `size` bytes at `data`.
// Uses the CPU's crc32 instruction where there is one.
uint32_t crc32c(uint32_t crc, const void* data, size_t size);
// The table-driven version (what other CPUs get), for tests to hold the two together.
uint32_t crc32c_portable(uint32_t crc, const void* data, size_t size);

}  // namespace syncd
