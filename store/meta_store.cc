#include "store/meta_store.h"

namespace syncd {

MetaStore::MetaStore(Database& db)
    : get_(db, "SELECT value FROM meta WHERE key = ?1"),
      set_(db,
           "INSERT INTO meta (key, value) VALUES (?1, ?2) "
           "ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      erase_(db, "DELETE FROM meta WHERE key = ?1") {}

std::optional<std::string> MetaStore::get(std::string_view key) {
  get_.bind(1, key);
  if (!get_.step()) return std::nullopt;
  std::string value = get_.column_text(0);
  get_.reset();
  return value;
}

void MetaStore::set(std::string_view key, std::string_view value) {
  set_.bind(1, key).bind(2, value).run();
}

void MetaStore::erase(std::string_view key) { erase_.bind(1, key).run(); }

}  // namespace syncd
