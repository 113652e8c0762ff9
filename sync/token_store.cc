#include "sync/token_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "util/crc32c.h"
#include "util/json.h"

namespace syncd {
namespace {

// A token file is a few hundred bytes; anything much larger is not one.
constexpr size_t kMaxFileBytes = 64 << 10;

std::runtime_error failure(const std::string& doing, const std::string& path) {
  return std::runtime_error(doing + " " + path + ": " + std::strerror(errno));
}

void write_all(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw failure("cannot write", path);
    done += static_cast<size_t>(n);
  }
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string fingerprint(const std::string& configured_secrets) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x",
                crc32c(0, configured_secrets.data(), configured_secrets.size()));
  return hex;
}

std::optional<Tokens> TokenStore::load() const {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw failure("cannot open", path_);
  }
  std::string text;
  char chunk[4096];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      throw failure("cannot read", path_);
    }
    if (n == 0) break;
    text.append(chunk, static_cast<size_t>(n));
    if (text.size() > kMaxFileBytes) break;
  }
  ::close(fd);
  JsonDocument doc;
  if (text.size() > kMaxFileBytes || parse_json(text, doc) || !doc.IsObject()) {
    throw std::runtime_error(path_ + " is not a token file (delete it to use auth.* again)");
  }
  Tokens tokens;
  for (auto [name, field] :
       {std::pair{"access_token", &tokens.access_token},
        std::pair{"refresh_token", &tokens.refresh_token},
        std::pair{"configured", &tokens.configured}, std::pair{"client_id", &tokens.client_id},
        std::pair{"client_secret", &tokens.client_secret}}) {
    auto it = doc.FindMember(name);
    if (it != doc.MemberEnd() && it->value.IsString()) *field = it->value.GetString();
  }
  auto expires = doc.FindMember("expires_at_ms");
  if (expires != doc.MemberEnd() && expires->value.IsInt64()) {
    tokens.expires_at_ms = expires->value.GetInt64();
  }
  return tokens;
}

void TokenStore::save(const Tokens& tokens) const {
  JsonDocument doc;
  doc.SetObject();
  auto& alloc = doc.GetAllocator();
  doc.AddMember("access_token", json_string(tokens.access_token, alloc), alloc);
  doc.AddMember("refresh_token", json_string(tokens.refresh_token, alloc), alloc);
  doc.AddMember("configured", json_string(tokens.configured, alloc), alloc);
  if (tokens.expires_at_ms > 0)
    doc.AddMember("expires_at_ms", JsonValue(tokens.expires_at_ms), alloc);
  if (!tokens.client_secret.empty()) {
    doc.AddMember("client_id", json_string(tokens.client_id, alloc), alloc);
    doc.AddMember("client_secret", json_string(tokens.client_secret, alloc), alloc);
  }
  const std::string text = to_json(doc) + "\n";
  const std::string temp = path_ + ".tmp";
  ::unlink(temp.c_str());  // a leftover of a crash; O_EXCL below refuses anything else
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw failure("cannot create", temp);
  try {
    // The mode is set again: a umask can only take bits away, but say it outright.
    if (::fchmod(fd, 0600) != 0) throw failure("cannot chmod", temp);
    write_all(fd, text, temp);
    if (::fsync(fd) != 0) throw failure("cannot fsync", temp);
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path_.c_str()) != 0) {
    const auto error = failure("cannot rename " + temp + " to", path_);
    ::unlink(temp.c_str());
    throw error;
  }
  const std::string dir = directory_of(path_);
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) throw failure("cannot open", dir);
  const int rc = ::fsync(dir_fd);
  ::close(dir_fd);
  if (rc != 0) throw failure("cannot fsync", dir);
}

}  // namespace syncd
