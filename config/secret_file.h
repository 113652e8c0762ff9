#pragma once
// Secrets kept in files (auth.password_file, tls.client_key): read or checked once at
// start, never logged. A file
// that group or others may read is refused, naming it and its mode, as is one that is
// missing, empty or not a regular file: a secret that leaks quietly is worse than a
// daemon that will not start.
#include <string>

#include "config/config.h"

namespace syncd {

// The file's text without a trailing newline. Throws ConfigError naming `key` and the file.
std::string read_secret_file(const std::string& path, const std::string& key);

// A regular file syncd can open; with `secret`, one that group and others cannot read.
// Throws ConfigError naming `key` and the file.
void check_file(const std::string& path, const std::string& key, bool secret);

// Reads the secrets the config names into it (auth.password from auth.password_file) and
// checks the TLS files it names (tls.client_key as a secret).
void load_secrets(Config& config);

}  // namespace syncd
