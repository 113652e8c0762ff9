// Fuzz target: the OAuth token endpoint's answer (parse_token_answer). Checks: a token
// taken is 1 to 16384 bytes of visible ASCII (it goes into an Authorization header and
// the token file, so it cannot end the header early), and an error is printable.
#include <cstddef>
#include <cstdint>

#include "sync/credentials.h"
#include "tests/fuzz/server_answer_checks.h"

using namespace syncd;

namespace {

void check_token(const std::string& token, bool may_be_empty, const char* what) {
  if (token.empty() && may_be_empty) return;
  if (token.empty() || token.size() > 16384) fuzz::fail(std::string(what) + " of a bad length");
  for (unsigned char c : token) {
    if (c < 0x21 || c > 0x7e)
      fuzz::fail(std::string(what) + " with a byte that could end a header");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  TokenAnswer answer;
  if (auto error = parse_token_answer(body, answer)) {
    fuzz::check_printable(*error, "a token answer error");
    return 0;
  }
  check_token(answer.access_token, false, "an access token");
  check_token(answer.refresh_token, true, "a refresh token");
  return 0;
}
