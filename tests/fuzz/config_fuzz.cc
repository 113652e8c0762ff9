// Fuzz target: the config parser (config/config.h). Any text is either a Config or a
// ConfigError; no other exception may escape. A Config that parsed must survive its
// own dump (flatten_config, what --check-config prints): rebuilt into a file and read
// again it is the same Config, and describe_changes sees no change.
#include <cstddef>
#include <cstdint>
#include <map>

#include "config/config.h"
#include "tests/fuzz/fuzz_support.h"

using namespace syncd;

namespace {

// The dump as a config file: "a.b" keys nested as {"a":{"b":...}}, values as dumped.
std::string rebuild(const std::vector<std::pair<std::string, std::string>>& flat) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> sections;
  std::string out = "{";
  bool first = true;
  for (const auto& [path, value] : flat) {
    const size_t dot = path.find('.');
    if (dot == std::string::npos) {
      out += (first ? "" : ",") + json_quote(path) + ":" + value;
      first = false;
    } else {
      sections[path.substr(0, dot)].emplace_back(path.substr(dot + 1), value);
    }
  }
  for (const auto& [section, members] : sections) {
    out += (first ? "" : ",") + json_quote(section) + ":{";
    first = false;
    for (size_t i = 0; i < members.size(); ++i) {
      out += (i ? "," : "") + json_quote(members[i].first) + ":" + members[i].second;
    }
    out += "}";
  }
  return out + "}";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Config config;
  try {
    config = parse_config(text, "fuzz.json");
  } catch (const ConfigError&) {
    return 0;
  }
  const auto flat = flatten_config(config);
  const std::string file = rebuild(flat);
  Config again;
  try {
    again = parse_config(file, "dump.json");
  } catch (const ConfigError& e) {
    fuzz::fail(std::string("the dump of a valid config is refused: ") + e.what() + "\n" + file);
  }
  if (flatten_config(again) != flat) fuzz::fail("the dump reads back as another config:\n" + file);
  if (again.backoff.factor != config.backoff.factor) {
    fuzz::fail("backoff.factor reads back as another number:\n" + file);
  }
  if (!describe_changes(config, again).empty())
    fuzz::fail("describe_changes sees a change in the dump");
  return 0;
}
