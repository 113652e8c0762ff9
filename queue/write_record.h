#pragma once
// A prepared local write as journal bytes, and back: the mutation (id, document, op, base
// version, payload, creation time), whether it stays local, and the local view it leaves.
// Length-prefixed fields, little endian; decode rejects anything short, long or unknown.
#include <optional>
#include <string>
#include <string_view>

#include "queue/local_writes.h"

namespace syncd {

std::string encode_write_record(const PreparedWrite& write);
std::optional<PreparedWrite> decode_write_record(std::string_view bytes);

}  // namespace syncd
