#pragma once
// The OAuth tokens syncd holds (the access token in use and the refresh token, which the
// server may rotate at each refresh; and credentials `syncctl auth` installed), kept out
// of the database in a file of their own,
// mode 0600, replaced atomically (a temporary file, fsync, rename, fsync of the
// directory): a crash leaves the old tokens or the new ones, never half a file.
//
// The tokens descend from the configured credentials; the file keeps a CRC-32C of them
// (not the secrets: Credentials says of what) so that a changed config wins over it.
#include <cstdint>
#include <optional>
#include <string>

namespace syncd {

struct Tokens {
  std::string access_token;
  std::string refresh_token;
  // Which configured credentials these descend from (fingerprint(), not the secrets).
  std::string configured;
  int64_t expires_at_ms = 0;  // the access token's expiry, Unix milliseconds; 0: unknown
  // Client credentials installed by `syncctl auth login` (empty: those of the config).
  std::string client_id{};
  std::string client_secret{};
};

// A short fingerprint of configured secrets.
std::string fingerprint(const std::string& configured_secrets);

class TokenStore {
 public:
  explicit TokenStore(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  // The stored tokens; nullopt when there is no file. Throws std::runtime_error naming
  // the file when it cannot be read or is not a token file.
  std::optional<Tokens> load() const;
  // Replaces the file (created 0600). Throws std::runtime_error naming what failed.
  void save(const Tokens& tokens) const;

 private:
  std::string path_;
};

}  // namespace syncd
