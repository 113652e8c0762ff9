// Fuzz target: the push answer parser and the pairing of results with the mutations
// sent (parse_push_response, match_results). The first byte picks how many mutations
// were sent (ids "m0".."m7"). Checks: every result kept has a valid version where one
// is due and object data where a conflict carries data; a rejection message is short
// and printable; every error is printable; and match_results pairs exactly when the
// result ids are the batch's ids, each once, and then pairs each with its own.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "sync/v1/bodies.h"
#include "tests/fuzz/server_answer_checks.h"

using namespace syncd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  fuzz::Steering steer(body);
  const size_t sent = steer.byte() % 9;

  std::vector<PushResult> results;
  if (auto error = parse_push_response(body, results)) {
    fuzz::check_printable(*error, "a push answer error");
    return 0;
  }
  for (const PushResult& r : results) {
    switch (r.kind) {
      case PushResult::Kind::applied:
        if (!is_version(r.version)) fuzz::fail("an applied result with version " + r.version);
        break;
      case PushResult::Kind::conflict:
        if (r.current_version && !is_version(*r.current_version)) {
          fuzz::fail("a conflict with current version " + *r.current_version);
        }
        if (r.current_data) {
          JsonDocument doc;
          if (parse_json(*r.current_data, doc) || !doc.IsObject()) {
            fuzz::fail("a conflict's data is not an object: " + *r.current_data);
          }
        }
        break;
      case PushResult::Kind::rejected:
        fuzz::check_printable(r.error, "a rejection message");
        if (r.error.size() > kMaxServerMessageBytes + 3) fuzz::fail("a rejection message too long");
        break;
    }
  }

  std::vector<std::string> batch(sent);
  for (size_t i = 0; i < sent; ++i) batch[i] = "m" + std::to_string(i);
  std::vector<std::string> want = batch, got;
  for (const PushResult& r : results) got.push_back(r.id);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  const size_t before = results.size();
  auto error = match_results(batch, results);
  if (error) {
    fuzz::check_printable(*error, "a match_results error");
    if (want == got) fuzz::fail("match_results refused an exact answer: " + *error);
    if (results.size() != before) fuzz::fail("match_results changed the results it refused");
    return 0;
  }
  if (want != got) fuzz::fail("match_results accepted results for other mutations");
  if (results.size() != batch.size()) fuzz::fail("match_results paired a different count");
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results[i].id != batch[i]) fuzz::fail("a mutation paired with another's result");
  }
  return 0;
}
