#include "daemon/collection_access.h"

namespace syncd {

CollectionAccess CollectionAccess::everything() {
  CollectionAccess a;
  a.read_all_ = a.write_all_ = true;
  return a;
}

CollectionAccess CollectionAccess::for_peer(const std::vector<IpcGrant>& grants, int64_t uid,
                                            int64_t gid, int64_t own_uid) {
  if (grants.empty() || uid == 0 || uid == own_uid) return everything();
  CollectionAccess a;
  for (const IpcGrant& g : grants) {
    if (!((g.uid >= 0 && g.uid == uid) || (g.gid >= 0 && g.gid == gid))) continue;
    for (const std::string& c : g.read) {
      if (c == "*") a.read_all_ = true;
      a.read_.insert(c);
    }
    for (const std::string& c : g.write) {
      if (c == "*") a.write_all_ = true;
      a.write_.insert(c);
    }
  }
  return a;
}

bool CollectionAccess::may_read(std::string_view collection) const {
  return reads_everything() || read_.count(collection) > 0 || write_.count(collection) > 0;
}

bool CollectionAccess::may_write(std::string_view collection) const {
  return write_all_ || write_.count(collection) > 0;
}

}  // namespace syncd
