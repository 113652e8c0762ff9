#pragma once
// Decodes one JSON-RPC frame (one line) into a DOM: without recursion, with the nesting
// bounded (containers past the limit stand as too-deep markers, so each request can be
// judged on its own), and with each request's id kept as the client wrote it. JSON-RPC
// 2.0 answers carry the request's id; an id such as 123456789012345678901234567890 or
// 1.50 would not survive a trip through a double, so the answer copies its text.
// The entry point for fuzzing the frame decoder: raw bytes in, no daemon needed.
#include <string_view>
#include <vector>

#include "util/json.h"

namespace syncd {

// Parses `frame` into `doc` (whose allocator the caller chose). Containers nested deeper
// than `max_depth` are read past and stand as markers (is_too_deep). raw_ids[i] is the
// text of request i's id (the frame itself, or element i of a batch) when that id is a
// string, a number or null, else empty; the views point into `frame`. Returns the parse
// error, as parse_json does.
std::optional<std::string> decode_frame(std::string_view frame, unsigned max_depth,
                                        JsonDocument& doc, std::vector<std::string_view>& raw_ids);

}  // namespace syncd
