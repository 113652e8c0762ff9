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

// Reads the secrets into `config`: each from its *_file, else from
// $CREDENTIALS_DIRECTORY/auth.NAME when that exists (auth.token, auth.refresh_token,
// auth.client_secret, auth.password); records those written inline, and refuses them
// when `config_path` (the file they came from) may be read by group or others. Checks
// that the keys set suit auth.mode, and the TLS files the config names (tls.client_key
// as a secret). Throws ConfigError naming the key and file.
void load_secrets(Config& config, const std::string& config_path = "");

}  // namespace syncd
