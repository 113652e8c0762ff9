// Fuzz target: the config parser (config/config.h). Any text is either a Config or a
// ConfigError; no other exception may escape. A Config that parsed must survive its
// own dump (flatten_config, what --check-config prints): rebuilt into a file and read
// again it is the same Config, and describe_changes sees no change.
#include <cstddef>
#include <cstdint>

#include "config/config.h"
#include "tests/config/dump_file.h"
#include "tests/fuzz/fuzz_support.h"

using namespace syncd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Config config;
  try {
    config = parse_config(text, "fuzz.json");
  } catch (const ConfigError&) {
    return 0;
  }
  const auto flat = flatten_config(config);
  const std::string file = testing::config_file_from_dump(flat);
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
