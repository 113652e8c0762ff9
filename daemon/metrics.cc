#include "daemon/metrics.h"

namespace syncd {

std::vector<Metrics::Entry> Metrics::entries() const {
  return {
      {"connections_accepted", connections_accepted, true, "client connections accepted"},
      {"connections_open", connections_open, false, "client connections open now"},
      {"connections_refused", connections_refused, true,
       "connections refused (ipc.max_clients, ipc.max_clients_per_uid, not allowed)"},
      {"connections_refused_uid", connections_refused_uid, true,
       "connections refused over ipc.max_clients_per_uid"},
      {"subscriptions_refused", subscriptions_refused, true,
       "subscriptions refused over ipc.max_subscriptions"},
      {"requests", requests, true, "JSON-RPC requests handled"},
      {"request_errors", request_errors, true, "requests answered with an error"},
      {"frames_oversize", frames_oversize, true, "frames over ipc.max_frame_bytes"},
      {"slow_reader_disconnects", slow_reader_disconnects, true,
       "clients cut off by ipc.max_total_output_bytes"},
      {"writes", writes, true, "acknowledged put, patch and delete"},
      {"commits", commits, true, "group commits (journal syncs) with at least one write"},
      {"commit_batch_max", commit_batch_max, false, "most writes in one group commit"},
      {"storage_errors", storage_errors, true, "writes refused by a storage error"},
      {"notifications", notifications, true, "change notifications sent"},
      {"writers_paced", writers_paced, true,
       "times a client with more writes waited for the journal applier"},
      {"output_bytes", output_bytes, false, "unsent output held for all clients, bytes"},
      {"output_bytes_max", output_bytes_max, false, "the most output_bytes has been"},
      {"notifications_dropped", notifications_dropped, true,
       "notifications not sent over an output budget"},
      {"gaps", gaps, true, "gap notifications that told subscribers what they missed"},
      {"memory_trims", memory_trims, true, "freed output memory given back (malloc_trim)"},
  };
}

void Metrics::to_json(JsonValue& out, JsonAllocator& alloc) const {
  out.SetObject();
  for (const Entry& e : entries()) {
    out.AddMember(rapidjson::StringRef(e.name), JsonValue(e.value), alloc);
  }
}

}  // namespace syncd
