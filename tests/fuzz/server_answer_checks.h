#pragma once
// Checks shared by the server-answer targets (push, pull): text that syncd keeps from
// a server or shows in status and last_error must be printable (no control bytes, valid
// UTF-8), as sync/server_text.h promises for everything a server sends.
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_support.h"

namespace syncd::fuzz {

inline void check_printable(std::string_view text, const char* what) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f)
      fail(std::string(what) + " holds a control byte: " + json_quote(text));
  }
  JsonDocument doc;  // the parser validates UTF-8
  if (parse_json(json_quote(text), doc)) fail(std::string(what) + " is not valid UTF-8");
}

}  // namespace syncd::fuzz
