#pragma once
// Secrets kept in files (auth.password_file): read once at start, never logged. A file
// that group or others may read is refused, naming it and its mode, as is one that is
// missing, empty or not a regular file: a secret that leaks quietly is worse than a
// daemon that will not start.
#include <string>

#include "config/config.h"

namespace syncd {

// The file's text without a trailing newline. Throws ConfigError naming `key` and the file.
std::string read_secret_file(const std::string& path, const std::string& key);

// Reads the secrets the config names into it (auth.password from auth.password_file).
void load_secrets(Config& config);

}  // namespace syncd
