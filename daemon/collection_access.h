#pragma once
// What one local client may do with the collections (ipc.grants): the collections it
// may read and those it may write (writing implies reading), each a set of names or
// every collection. Root, syncd's own user, and everyone when no grant is configured
// may do everything; a peer that no grant names may do nothing with documents.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace syncd {

class CollectionAccess {
 public:
  static CollectionAccess everything();
  // The union of the grants naming `uid` or `gid`.
  static CollectionAccess for_peer(const std::vector<IpcGrant>& grants, int64_t uid, int64_t gid,
                                   int64_t own_uid);

  bool may_read(std::string_view collection) const;
  bool may_write(std::string_view collection) const;
  bool reads_everything() const { return read_all_ || write_all_; }
  bool writes_everything() const { return write_all_; }

 private:
  bool read_all_ = false;
  bool write_all_ = false;
  std::set<std::string, std::less<>> read_;
  std::set<std::string, std::less<>> write_;
};

}  // namespace syncd
