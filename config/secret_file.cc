#include "config/secret_file.h"

#include "util/file_mode.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace syncd {
namespace {

constexpr size_t kMaxSecretBytes = 64 << 10;

// An open descriptor of the regular file `path`; with `secret`, one only its owner may
// read. Throws ConfigError naming `key` and the file.
int open_checked(const std::string& path, const std::string& key, bool secret) {
  const std::string where = key + ": " + path;
  // O_NONBLOCK: a FIFO in its place must not hang the start.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) throw ConfigError(where + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ConfigError(where + ": not a regular file");
  }
  if (secret && (st.st_mode & 077) != 0) {
    ::close(fd);
    throw ConfigError(where + " may be read by group or others (mode " + octal_mode(st.st_mode) +
                      "): chmod 600 it");
  }
  return fd;
}

}  // namespace

std::string read_secret_file(const std::string& path, const std::string& key) {
  const std::string where = key + ": " + path;
  const int fd = open_checked(path, key, /*secret=*/true);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while (((n = ::read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) &&
         text.size() <= kMaxSecretBytes) {
    if (n > 0) text.append(buffer, static_cast<size_t>(n));
  }
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) throw ConfigError(where + ": " + std::strerror(read_errno));
  if (text.size() > kMaxSecretBytes) throw ConfigError(where + ": larger than 64 KiB");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) throw ConfigError(where + ": empty");
  return text;
}

void check_file(const std::string& path, const std::string& key, bool secret) {
  ::close(open_checked(path, key, secret));
}

namespace {

// The auth mode the keys set imply when auth.mode is not given (as before it existed).
std::string implied_mode(const Config::Auth& a) {
  if (!a.mode.empty()) return a.mode;
  if (!a.username.empty()) return "basic";
  if (!a.token_url.empty()) return "oauth2";
  if (!a.token.empty()) return "bearer";
  return "none";
}

// What each mode needs, checked once the secrets are read (they may come from files or
// systemd credentials, which the keys alone do not show).
void check_mode(const Config::Auth& a) {
  const std::string mode = implied_mode(a);
  const std::string where = "auth.mode " + mode + ": ";
  const bool has_client_credentials = !a.client_id.empty() && !a.client_secret.empty();
  if (mode == "none") {
    for (const auto& [key, value] :
         {std::pair{"auth.token", &a.token}, std::pair{"auth.token_url", &a.token_url},
          std::pair{"auth.refresh_token", &a.refresh_token},
          std::pair{"auth.client_secret", &a.client_secret},
          std::pair{"auth.username", &a.username}}) {
      if (!value->empty()) throw ConfigError(where + std::string(key) + " is set: remove it");
    }
  } else if (mode == "bearer") {
    if (a.token.empty()) {
      throw ConfigError(where + "needs auth.token_file (or the systemd credential auth.token)");
    }
    if (!a.token_url.empty()) {
      throw ConfigError(where +
                        "auth.token_url is set: a token that refreshes is auth.mode oauth2");
    }
  } else if (mode == "oauth2") {
    if (a.token_url.empty()) throw ConfigError(where + "needs auth.token_url");
    if (!a.mode.empty() && a.refresh_token.empty() && !has_client_credentials) {
      throw ConfigError(where +
                        "needs auth.refresh_token_file (the refresh_token grant), or "
                        "auth.client_id with auth.client_secret_file (the client_credentials "
                        "grant)");
    }
  } else if (mode == "basic") {
    if (a.username.empty()) throw ConfigError(where + "needs auth.username");
    if (a.password.empty()) {
      throw ConfigError(where +
                        "needs auth.password_file (or the systemd credential auth.password)");
    }
    if (!a.token.empty() || !a.token_url.empty()) {
      throw ConfigError("auth.username and auth.token: choose basic auth or a bearer token");
    }
  }
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

void load_secrets(Config& config, const std::string& config_path) {
  Config::Auth& a = config.auth;
  struct Secret {
    std::string key;
    std::string* value;
    const std::string* file;
  };
  const Secret secrets[] = {{"auth.token", &a.token, &a.token_file},
                            {"auth.refresh_token", &a.refresh_token, &a.refresh_token_file},
                            {"auth.client_secret", &a.client_secret, &a.client_secret_file},
                            {"auth.password", &a.password, &a.password_file}};
  const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");
  a.inline_secrets.clear();
  for (const Secret& s : secrets) {
    if (!s.value->empty()) {
      if (!s.file->empty()) throw ConfigError(s.key + " and " + s.key + "_file: give one of them");
      a.inline_secrets.push_back(s.key);
    } else if (!s.file->empty()) {
      *s.value = read_secret_file(*s.file, s.key + "_file");
    } else if (credentials != nullptr && *credentials != '\0' &&
               exists(std::string(credentials) + "/" + s.key)) {
      *s.value =
          read_secret_file(std::string(credentials) + "/" + s.key, s.key + " (systemd credential)");
    }
  }
  if (!a.inline_secrets.empty() && !config_path.empty()) {
    struct stat st {};
    if (::stat(config_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      std::string keys;
      for (const std::string& k : a.inline_secrets) keys += (keys.empty() ? "" : ", ") + k;
      throw ConfigError(config_path + " holds " + keys +
                        " and may be read by group or others (mode " + octal_mode(st.st_mode) +
                        "): chmod 600 it, or move the secret to " + a.inline_secrets.front() +
                        "_file");
    }
  }
  check_mode(a);
  check_credentials_transport(config);
  // libcurl reads these at each handshake; a start that cannot is better than a sync that
  // fails later with a TLS error.
  if (!config.tls.ca_file.empty()) check_file(config.tls.ca_file, "tls.ca_file", false);
  if (!config.tls.client_cert.empty()) {
    check_file(config.tls.client_cert, "tls.client_cert", false);
    check_file(config.tls.client_key, "tls.client_key", true);
  }
}

}  // namespace syncd
