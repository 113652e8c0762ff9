#pragma once
// Small named values kept in the database (`meta` table): the client id, later the pull
// cursor. Writes join the caller's transaction.
#include <optional>
#include <string>
#include <string_view>

#include "store/sqlite.h"

namespace syncd {

class MetaStore {
 public:
  explicit MetaStore(Database& db);
  std::optional<std::string> get(std::string_view key);
  void set(std::string_view key, std::string_view value);
  void erase(std::string_view key);

 private:
  Statement get_;
  Statement set_;
  Statement erase_;
};

}  // namespace syncd
