// Fuzz target: the pull answer parser (parse_pull_response). The first byte picks
// store.max_document_depth (1 to 16). Checks what sync/v1/bodies.h promises of a
// page: a cursor of 1 to kMaxCursorBytes bytes, valid keys and versions, and data that
// is an object no deeper than the limit and without a key twice (anything else is
// skipped, named in `skipped`); every error and skip message is printable.
#include <cstddef>
#include <cstdint>

#include "store/keys.h"
#include "sync/v1/bodies.h"
#include "tests/fuzz/server_answer_checks.h"

using namespace syncd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  fuzz::Steering steer(body);
  const unsigned max_depth = 1 + steer.byte() % 16;

  PullPage page;
  if (auto error = parse_pull_response(body, page, max_depth)) {
    fuzz::check_printable(*error, "a pull answer error");
    return 0;
  }
  if (page.cursor.empty() || page.cursor.size() > kMaxCursorBytes)
    fuzz::fail("a cursor of bad length");
  for (const PullChange& c : page.changes) {
    if (check_key(c.collection, "collection") || check_key(c.doc_id, "doc_id")) {
      fuzz::fail("a change with an invalid key");
    }
    if (!is_version(c.version)) fuzz::fail("a change with version " + c.version);
    if (!c.data) continue;
    JsonDocument doc;
    if (parse_json(*c.data, doc) || !doc.IsObject()) fuzz::fail("a change's data is not an object");
    if (auto problem = check_json_value(doc, max_depth)) {
      fuzz::fail("a change's data kept although " + describe(*problem, "it", max_depth));
    }
  }
  for (const std::string& skipped : page.skipped) fuzz::check_printable(skipped, "a skip message");
  return 0;
}
