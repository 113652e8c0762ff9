// Fuzz target: the field-level three-way merge (sync/three_way_merge.h) of base, local
// and remote, the input's NUL-separated parts after one steering byte (an empty part is
// an absent document; the byte's low bit picks the tiebreak). Checks the merge's
// contract: a side equal to the base yields the other side, equal sides yield that
// side, neither with conflicts; the result nests no deeper than the deepest input and
// has no key twice. Inputs with a key twice are left out, as syncd refuses them.
#include <cstddef>
#include <cstdint>

#include "sync/three_way_merge.h"
#include "tests/fuzz/fuzz_support.h"

using namespace syncd;

namespace {

// Parses a part into `doc`; false when the input is not one syncd would merge.
bool parse_part(std::string_view text, JsonDocument& doc, const JsonValue*& out) {
  out = nullptr;
  if (text.empty()) return true;
  if (parse_json(text, doc) || check_json_value(doc, kMaxJsonDepth)) return false;
  out = &doc;
  return true;
}

bool same(const JsonValue* a, const std::optional<JsonDocument>& b) {
  if (a == nullptr || !b) return a == nullptr && !b;
  return json_equal(*a, *b);
}

std::string show(const JsonValue* v) { return v ? to_json(*v) : "(absent)"; }

// merge(base, local, remote) must be `want`, without conflicts.
void expect_merge(const JsonValue* base, const JsonValue* local, const JsonValue* remote,
                  Tiebreak tiebreak, const JsonValue* want, const char* rule) {
  MergeResult r = three_way_merge(base, local, remote, tiebreak);
  if (!same(want, r.document) || !r.conflicts.empty()) {
    fuzz::fail(std::string(rule) + ": merge of base " + show(base) + ", local " + show(local) +
               ", remote " + show(remote) + " gave " + show(r.document ? &*r.document : nullptr) +
               " with " + std::to_string(r.conflicts.size()) + " conflicts, want " + show(want));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz::Steering steer(input);
  const Tiebreak tiebreak = steer.byte() & 1 ? Tiebreak::remote : Tiebreak::local;
  auto parts = fuzz::split_parts(input, 3);
  parts.resize(3);
  JsonDocument docs[3];
  const JsonValue* v[3];
  for (int i = 0; i < 3; ++i) {
    if (!parse_part(parts[i], docs[i], v[i])) return 0;
  }
  const JsonValue *base = v[0], *local = v[1], *remote = v[2];

  MergeResult r = three_way_merge(base, local, remote, tiebreak);
  if (r.document) {
    unsigned deepest = 0;
    for (const JsonValue* d : v) deepest = std::max(deepest, d ? fuzz::json_depth(*d) : 0);
    if (fuzz::json_depth(*r.document) > deepest)
      fuzz::fail("the merge nests deeper than its inputs");
    if (auto problem = check_json_value(*r.document, kMaxJsonDepth)) {
      fuzz::fail("the merge has a problem: " + describe(*problem, "merge", kMaxJsonDepth));
    }
    fuzz::check_round_trip(*r.document, "the merge");
  }
  // The tiebreak side wins a conflict at the top: a conflict on the root is that side.
  // The root is reported as "/", which is also the path of a key "" (and the keys are
  // not escaped as JSON pointers), so inputs with a top-level key "" are left out here.
  bool empty_key = false;
  for (const JsonValue* d : v) empty_key |= d && d->IsObject() && d->HasMember("");
  for (const std::string& path : r.conflicts) {
    if (path == "/" && !empty_key &&
        !same(tiebreak == Tiebreak::local ? local : remote, r.document)) {
      fuzz::fail("a conflict on the whole document not won by the tiebreak side");
    }
  }
  expect_merge(base, base, remote, tiebreak, remote, "local unchanged takes remote");
  expect_merge(base, local, base, tiebreak, local, "remote unchanged takes local");
  expect_merge(base, local, local, tiebreak, local, "the same change on both sides");
  return 0;
}
