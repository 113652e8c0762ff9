// The dump of a config (flatten_config, what --check-config prints) turned back into a
// config file: "a.b" keys nested as {"a":{"b":...}}, values as dumped. Shared by the
// config tests and the config fuzz target, which both check that a dump reads back.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "util/json.h"

namespace syncd::testing {

inline std::string config_file_from_dump(
    const std::vector<std::pair<std::string, std::string>>& flat) {
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

}  // namespace syncd::testing
