#pragma once
// The CouchDB replication protocol's bodies as syncd writes and reads them: the
// `_bulk_docs` request (`new_edits: false`, each revision derived from its mutation), its
// answer, and a `_changes` page. A document `collection/id` is the CouchDB document with
// `_id` "collection/id"; the local view holds the user's JSON only, so every top-level
// `_` field is stripped on the way in. An answer of the wrong shape is an error naming
// what is wrong; text from the server is cut and made printable (server_text).
//
// Revisions: a mutation made on base revision "N-h" (or on none: N = 0) writes revision
// "N+1-<its id as 32 hex digits>", with `_revisions` naming the base as its parent. The
// revision is a function of the mutation alone, so a resend after a lost answer, a
// restart or a crash is the same revision, which CouchDB already has: a no-op.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/mutation.h"
#include "sync/remote_protocol.h"

namespace syncd::couchdb {

// "collection/id".
std::string document_id(std::string_view collection, std::string_view doc_id);

struct Revision {
  uint64_t generation = 0;
  std::string hash;
};

// "N-hash": N a decimal from 1 without leading zero, hash 1-128 printable ASCII bytes.
std::optional<Revision> parse_revision(std::string_view text);

// True when a pulled revision `a` is to replace `b`, the one syncd holds: whenever they
// differ. A pulled change carries CouchDB's current winner, which may have a lower
// generation than ours (a live leaf beats a deleted one): the server decides. Our own
// push coming back is the same revision, passed over.
bool revision_newer(const std::string& a, const std::string& b);

// The revision mutation `m` writes, or why it cannot be written (a base version that is
// not a revision, an id that is not a UUID).
struct MutationRevision {
  Revision revision;
  std::optional<Revision> base;
  std::string text() const;
};
std::optional<std::string> revision_of(const Mutation& m, MutationRevision& out);

// The first top-level key of the JSON object `object` that CouchDB reserves (one starting
// with '_'), if any.
std::optional<std::string> reserved_field(std::string_view object_json);

// The `_bulk_docs` body for `batch` (puts with whole documents and deletes; no patch),
// `revisions[i]` being batch[i]'s.
std::string build_bulk_docs_body(const std::vector<Mutation>& batch,
                                 const std::vector<MutationRevision>& revisions);

// One result per mutation of `batch`, in order: applied with its revision, or rejected
// with the server's error and reason for its document. nullopt on success, else why the
// body is not a `_bulk_docs` answer for `batch` (then `out` is unchanged).
std::optional<std::string> parse_bulk_docs_response(std::string_view body,
                                                    const std::vector<Mutation>& batch,
                                                    const std::vector<MutationRevision>& revisions,
                                                    std::vector<PushResult>& out);

// The longest cursor (a sequence) kept from a server: a CouchDB cluster's sequences
// carry one part per shard.
constexpr size_t kMaxSequenceBytes = 8192;

// The `since` query value for a cursor: the sequence as the server gave it (a number's
// decimal digits, a string's text), percent-encoded.
std::string since_parameter(const std::string& cursor);

// A `_changes` page (`include_docs=true`, asked with `limit`). The cursor is `last_seq`;
// has_more is `pending` > 0 where the server sends it (CouchDB), else a full page
// (PouchDB Server sends no `pending`). Design documents and ids that are not
// "collection/id" are passed over; a document syncd cannot hold (deeper than
// `max_document_depth`, a key twice) is skipped with why.
std::optional<std::string> parse_changes_response(std::string_view body, size_t limit,
                                                  unsigned max_document_depth, PullPage& out);

// How parse_changes_response's error for a body that is not JSON starts.
constexpr std::string_view kNotJson = "_changes answer is not JSON";

// A `_changes` page of at most one change without its document (limit=1, no
// include_docs): that change goes into `skipped` with `why`, and the cursor past it.
std::optional<std::string> parse_change_to_skip(std::string_view body, const std::string& why,
                                                PullPage& out);

}  // namespace syncd::couchdb
