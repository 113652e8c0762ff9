#include "config/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace syncd {
namespace {

constexpr size_t kMaxSecretBytes = 64 << 10;

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

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

void load_secrets(Config& config) {
  if (!config.auth.password_file.empty()) {
    config.auth.password = read_secret_file(config.auth.password_file, "auth.password_file");
  }
  // libcurl reads these at each handshake; a start that cannot is better than a sync that
  // fails later with a TLS error.
  if (!config.tls.ca_file.empty()) check_file(config.tls.ca_file, "tls.ca_file", false);
  if (!config.tls.client_cert.empty()) {
    check_file(config.tls.client_cert, "tls.client_cert", false);
    check_file(config.tls.client_key, "tls.client_key", true);
  }
}

}  // namespace syncd
