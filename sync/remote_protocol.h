#pragma once
// The seam between the sync engine and a remote backend. One implementation per wire
// protocol, each in its own folder (sync/v1/ for protocol v1): it owns the paths,
// headers, bodies and status rules, and reduces every answer to an Answer the engine can
// act on without knowing any of them (ok, retryable, rejected, unauthorised). Versions
// and cursors are opaque strings that only the protocol compares. Callbacks run on the
// loop, exactly once each, unless cancel_all() dropped them first.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "queue/mutation.h"
#include "sync/http_transport.h"

namespace syncd {

// What the remote said about one pushed mutation.
struct PushResult {
  enum class Kind { applied, conflict, rejected };
  std::string id;
  Kind kind = Kind::applied;
  std::string version;                         // applied
  std::optional<std::string> current_version;  // conflict: the server's document
  std::optional<std::string> current_data;     // JSON object text; nullopt when deleted/absent
  std::string error;                           // rejected
};

struct PullChange {
  std::string collection;
  std::string doc_id;
  std::string version;
  std::optional<std::string> data;  // nullopt when deleted
};

struct PullPage {
  std::vector<PullChange> changes;
  std::string cursor;  // where the next page starts
  bool has_more = false;
  // Changes left out, each with why: "pulled change C/ID (version V) skipped: ...".
  std::vector<std::string> skipped;
  // Changes read that are not syncd documents (a CouchDB design document, another
  // app's document in a shared database): passed over without a word.
  size_t passed_over = 0;
};

enum class AnswerKind {
  ok,
  // Try again after the backoff: the remote is unreachable, busy, answered something of
  // the wrong shape, or says its URL is wrong. Nothing the request carried is refused.
  retryable,
  // The remote refuses what the request carries (push only): the engine halves the
  // batch to find the mutation, and a batch of one is a dead letter.
  rejected,
  // The credentials were refused (refresh_may_help: refreshing them may cure it).
  unauthorised,
};

struct Answer {
  AnswerKind kind = AnswerKind::ok;
  std::string error;         // why, as status and last_error show it; "" when ok
  bool unreachable = false;  // no connection could be made: the device is offline
  bool refresh_may_help = false;
  std::optional<int64_t> retry_after_ms;  // the remote asked to wait this long
  uint64_t credentials_generation = 0;    // of the credentials the request carried
  std::optional<int64_t> server_date_ms;  // the answer's Date header, when it had one
};

struct PushAnswer : Answer {
  std::vector<PushResult> results;  // when ok: results[i] answers batch[i]
};

struct PullAnswer : Answer {
  PullPage page;  // when ok
};

// A stream that says when there is something to pull: Server-Sent Events whose `event`
// names a change, or JSON lines each of which is one (CouchDB's continuous feed).
struct ChangeHintStream {
  enum class Framing { server_sent_events, json_lines };
  HttpRequest request;
  std::string event;  // the SSE event name that is a hint ("message" when unnamed)
  Framing framing = Framing::server_sent_events;
  // More within a second is a flood, and ends the stream.
  int64_t max_bytes_per_second = 64 << 10;
};

// Where the remote is and how to talk to it (config `remote`).
struct RemoteEndpoint {
  std::string url;  // base URL, no trailing slash
  std::string protocol = "v1";
};

class RemoteProtocol {
 public:
  using PushDone = std::function<void(PushAnswer)>;
  using PullDone = std::function<void(PullAnswer)>;
  using HealthDone = std::function<void(Answer)>;

  virtual ~RemoteProtocol() = default;

  // Sends `batch` (at most one mutation per document, each with its id for the
  // remote's dedupe); an ok answer has exactly one result per mutation, in order.
  virtual void push(const std::vector<Mutation>& batch, PushDone done) = 0;
  // The page of changes after `cursor` (initial_cursor() at first), of collections in
  // `collections` only when it is not empty.
  virtual void pull(const std::string& cursor, const std::vector<std::string>& collections,
                    PullDone done) = 0;
  virtual std::string initial_cursor() const = 0;
  // Is the remote there and speaking this protocol?
  virtual void health(HealthDone done) = 0;
  // The change-hint stream, authorised, or nullopt when the protocol has none.
  virtual std::optional<ChangeHintStream> change_hints() = 0;
  // True when server version `a` is newer than `b` (both opaque to the engine).
  virtual bool version_newer(const std::string& a, const std::string& b) const = 0;
  // True when the remote takes no merge patch: the engine sends a patch as the whole
  // document it leaves on the server state it was made on (a put).
  virtual bool sends_whole_documents() const { return false; }
  // True when version_newer orders any two versions of a document, so a pull answer that
  // raced a push is harmless (the older version loses). False (CouchDB: a revision other
  // than ours is the server's winner): the engine starts no push while a pull is in
  // flight, or a page read before an acknowledged push would bring back its old revision.
  virtual bool versions_ordered() const { return true; }
};

}  // namespace syncd
