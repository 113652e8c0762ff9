#include "sync/remote.h"

#include <stdexcept>

#include "sync/couchdb/couchdb_protocol.h"
#include "sync/v1/v1_protocol.h"

namespace syncd {

std::unique_ptr<Remote> make_remote(HttpTransport& http, Database& db, const Clock& clock,
                                    const RemoteSettings& settings) {
  auto credentials = std::make_unique<Credentials>(http, db, clock, settings.credentials);
  std::unique_ptr<RemoteProtocol> protocol;
  if (settings.endpoint.protocol == "v1") {
    protocol =
        std::make_unique<V1Protocol>(http, *credentials, clock,
                                     V1Settings{settings.endpoint.url, settings.client_id,
                                                settings.pull_limit, settings.max_document_depth});
  } else if (settings.endpoint.protocol == "couchdb") {
    protocol = std::make_unique<CouchDbProtocol>(
        http, *credentials, clock,
        CouchDbSettings{settings.endpoint.url, settings.pull_limit, settings.max_document_depth,
                        settings.hint_heartbeat_ms});
  } else {
    throw std::invalid_argument("unknown remote protocol \"" + settings.endpoint.protocol + "\"");
  }
  return std::make_unique<Remote>(http, std::move(credentials), std::move(protocol));
}

}  // namespace syncd
