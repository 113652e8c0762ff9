#include "sync/three_way_merge.h"

#include <set>

namespace syncd {
namespace {

// Absent (nullptr) and present values compare by content; absent equals only absent.
bool same(const JsonValue* a, const JsonValue* b) {
  if (a == nullptr || b == nullptr) return a == b;
  return *a == *b;
}

const JsonValue* member(const JsonValue* object, const std::string& key) {
  if (object == nullptr || !object->IsObject()) return nullptr;
  auto it = object->FindMember(key.c_str());
  return it == object->MemberEnd() ? nullptr : &it->value;
}

void collect_keys(const JsonValue* object, std::set<std::string>& keys) {
  if (object == nullptr || !object->IsObject()) return;
  for (const auto& m : object->GetObject()) {
    keys.emplace(m.name.GetString(), m.name.GetStringLength());
  }
}

// Merges one value; returns nullptr for "absent", else writes into `out` and returns it.
const JsonValue* merge_value(const JsonValue* base, const JsonValue* local, const JsonValue* remote,
                             Tiebreak tiebreak, const std::string& path, JsonValue& out,
                             JsonAllocator& alloc, std::vector<std::string>& conflicts) {
  const JsonValue* chosen = nullptr;
  if (same(local, base)) {
    chosen = remote;
  } else if (same(remote, base) || same(local, remote)) {
    chosen = local;
  } else if (local != nullptr && remote != nullptr && local->IsObject() && remote->IsObject() &&
             (base == nullptr || base->IsObject())) {
    out.SetObject();
    std::set<std::string> keys;
    collect_keys(base, keys);
    collect_keys(local, keys);
    collect_keys(remote, keys);
    for (const auto& key : keys) {
      JsonValue merged;
      const JsonValue* result =
          merge_value(member(base, key), member(local, key), member(remote, key), tiebreak,
                      path + "/" + key, merged, alloc, conflicts);
      if (result != nullptr) out.AddMember(json_string(key, alloc), merged, alloc);
    }
    return &out;
  } else {
    conflicts.push_back(path.empty() ? "/" : path);
    chosen = tiebreak == Tiebreak::local ? local : remote;
  }
  if (chosen == nullptr) return nullptr;
  out.CopyFrom(*chosen, alloc);
  return &out;
}

}  // namespace

MergeResult three_way_merge(const JsonValue* base, const JsonValue* local, const JsonValue* remote,
                            Tiebreak tiebreak) {
  MergeResult result;
  JsonDocument merged;
  const JsonValue* out = merge_value(base, local, remote, tiebreak, "", merged,
                                     merged.GetAllocator(), result.conflicts);
  if (out != nullptr) result.document = std::move(merged);
  return result;
}

}  // namespace syncd
