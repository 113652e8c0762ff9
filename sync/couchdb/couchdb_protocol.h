#pragma once
// The CouchDB replication protocol (Apache CouchDB, IBM Cloudant, PouchDB Server) as a
// RemoteProtocol: `remote.url` is the database's URL. Push is POST _bulk_docs with
// `new_edits: false` and revisions derived from each mutation (sync/couchdb/bodies.h), so
// a resend is a no-op and exactly-once needs no dedupe on the server; a patch goes as the
// whole document (sends_whole_documents). Pull is GET _changes with include_docs; health
// is GET on the database. Versions are revisions, cursors sequences, both opaque to the
// engine. Status rules are sync/http_answer.h's, with 201 and 202 a success for a push;
// a per-document error in a push answer rejects that mutation alone, except when every
// document is `unauthorized` (a members-only database without the right credentials):
// then the credentials are refused. A page that cannot be read whole (too large, not
// JSON) is asked for again in smaller pages, and a single change that cannot be read is
// passed over, named in PullPage::skipped. Change hints come from the continuous
// _changes feed (since=now).
#include <string>
#include <vector>

#include "sync/credentials.h"
#include "sync/http_answer.h"
#include "sync/http_transport.h"
#include "sync/remote_protocol.h"
#include "util/clock.h"

namespace syncd {

struct CouchDbSettings {
  std::string url;  // the database, no trailing slash
  int64_t pull_limit = 500;
  unsigned max_document_depth = 64;  // a pulled document nested deeper is skipped
  // The continuous feed's heartbeat: well inside http.low_speed_time_s.
  int64_t heartbeat_ms = 10000;
};

class CouchDbProtocol final : public RemoteProtocol {
 public:
  CouchDbProtocol(HttpTransport& http, Credentials& credentials, const Clock& clock,
                  CouchDbSettings settings);

  void push(const std::vector<Mutation>& batch, PushDone done) override;
  void pull(const std::string& cursor, const std::vector<std::string>& collections,
            PullDone done) override;
  std::string initial_cursor() const override { return "0"; }
  void health(HealthDone done) override;
  std::optional<ChangeHintStream> change_hints() override;
  bool version_newer(const std::string& a, const std::string& b) const override;
  bool sends_whole_documents() const override { return true; }
  bool versions_ordered() const override { return false; }

 private:
  HttpRequest request(const std::string& method, const std::string& path, std::string body,
                      uint64_t& generation) const;
  void fetch_changes(const std::string& cursor, PullDone done);
  void skip_change(const std::string& cursor, const std::string& why, PullDone done);

  HttpTransport& http_;
  Credentials& credentials_;
  const Clock& clock_;
  CouchDbSettings settings_;
  const StatusRules push_rules_;
  // The page size asked for: pull_limit, smaller after a page that could not be read
  // whole (too large, or not JSON), doubling back after each page read.
  size_t limit_;
};

}  // namespace syncd
