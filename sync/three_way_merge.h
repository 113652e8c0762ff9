#pragma once
// Field-level three-way merge of JSON documents, the `merge` conflict strategy. `base`
// is the server version the local mutation was made on, `local` the local view, and
// `remote` the server's current document; each may be absent (the document did not
// exist or was deleted). Object members are merged recursively; any other value
// (arrays included) is replaced whole. A field changed on both sides to different
// values goes to the tiebreak side and is reported. Recurses once per level of nested
// objects, so at most kMaxJsonDepth deep (util/json.h: no value in syncd nests deeper);
// the result nests no deeper than the deepest input.
#include <optional>
#include <string>
#include <vector>

#include "util/json.h"

namespace syncd {

enum class Tiebreak { local, remote };

struct MergeResult {
  std::optional<JsonDocument> document;  // nullopt: the merged result is "deleted"
  std::vector<std::string> conflicts;    // paths changed on both sides, e.g. "/a/b"
};

MergeResult three_way_merge(const JsonValue* base, const JsonValue* local, const JsonValue* remote,
                            Tiebreak tiebreak);

}  // namespace syncd
