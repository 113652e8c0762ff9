#pragma once
// The remote as the sync engine holds it: its credentials and the protocol that speaks
// to it, chosen by the config's remote.protocol (make_remote). Adding a protocol is a
// folder under sync/ implementing RemoteProtocol, and one line in make_remote.
#include <memory>
#include <string>

#include "store/sqlite.h"
#include "sync/credentials.h"
#include "sync/http_transport.h"
#include "sync/remote_protocol.h"
#include "util/clock.h"

namespace syncd {

struct RemoteSettings {
  RemoteEndpoint endpoint;
  CredentialSettings credentials;
  std::string client_id;
  int64_t pull_limit = 500;
  unsigned max_document_depth = 64;   // a pulled document nested deeper is skipped
  int64_t hint_heartbeat_ms = 10000;  // asked of a hint stream that has heartbeats
};

class Remote {
 public:
  Remote(HttpTransport& http, std::unique_ptr<Credentials> credentials,
         std::unique_ptr<RemoteProtocol> protocol)
      : http_(http), credentials_(std::move(credentials)), protocol_(std::move(protocol)) {}

  RemoteProtocol& protocol() { return *protocol_; }
  Credentials& credentials() { return *credentials_; }
  HttpTransport& http() { return http_; }
  // Drops every request in flight (their callbacks never run).
  void cancel_all() { http_.cancel_all(); }

 private:
  HttpTransport& http_;
  std::unique_ptr<Credentials> credentials_;
  std::unique_ptr<RemoteProtocol> protocol_;
};

// Throws std::invalid_argument for an unknown protocol.
std::unique_ptr<Remote> make_remote(HttpTransport& http, Database& db, const Clock& clock,
                                    const RemoteSettings& settings);

}  // namespace syncd
