#pragma once
// `syncctl doctor`: what syncctl checks itself (the socket: there, reachable, not open
// to every user), then the daemon's checks (daemon/doctor.h) once it has tried the
// remote afresh. Each finding is {check, outcome: ok|fail|skipped, detail, fix?}; the
// exit code is 0 only when none failed (3 when the daemon cannot be reached).
#include <cstdint>
#include <string>

#include "cli/rpc_client.h"
#include "util/clock.h"
#include "util/json.h"

namespace syncd {

// The socket's findings, appended to `findings` (an array); true when it is reachable
// (`client` is then connected).
bool check_socket(const std::string& path, RpcClient& client, JsonValue& findings,
                  JsonAllocator& alloc);

// One finding a line, its fix under it, then how many failed.
std::string render_findings(const JsonValue& findings, bool colour);

// The whole command; `timeout_s` bounds the wait for a fresh attempt at the remote.
int run_doctor(const std::string& socket, bool json, int64_t timeout_s, const Clock& clock);

}  // namespace syncd
