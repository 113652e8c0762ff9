#include "daemon/metrics.h"

namespace syncd {

void Metrics::to_json(JsonValue& out, JsonAllocator& alloc) const {
  out.SetObject();
  auto add = [&](const char* name, uint64_t value) {
    out.AddMember(rapidjson::StringRef(name), JsonValue(value), alloc);
  };
  add("connections_accepted", connections_accepted);
  add("connections_open", connections_open);
  add("connections_refused", connections_refused);
  add("connections_refused_uid", connections_refused_uid);
  add("subscriptions_refused", subscriptions_refused);
  add("requests", requests);
  add("request_errors", request_errors);
  add("frames_oversize", frames_oversize);
  add("slow_reader_disconnects", slow_reader_disconnects);
  add("writes", writes);
  add("commits", commits);
  add("commit_batch_max", commit_batch_max);
  add("storage_errors", storage_errors);
  add("notifications", notifications);
  add("writers_paced", writers_paced);
  add("output_bytes", output_bytes);
  add("output_bytes_max", output_bytes_max);
  add("notifications_dropped", notifications_dropped);
  add("gaps", gaps);
  add("memory_trims", memory_trims);
}

}  // namespace syncd
