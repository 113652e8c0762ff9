#pragma once
// Protocol v1 bodies (docs/PROTOCOL.md): the push request built from queued mutations,
// and the push and pull answers parsed and checked. A server answer of the wrong shape
// is an error naming what is wrong, never a crash or a guess: versions are decimal
// integers, a push answer has exactly one result per mutation sent, and text from the
// server (ids, messages) is cut and made printable before it is kept or shown.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/mutation.h"
#include "sync/remote_protocol.h"

namespace syncd {

std::string build_push_body(const std::string& client_id, const std::vector<Mutation>& batch);

// nullopt on success, else why the body is not a valid push answer. A conflict whose
// current document nests deeper than `max_document_depth`, or has a key twice, becomes a
// rejection saying so: syncd cannot hold that document.
std::optional<std::string> parse_push_response(std::string_view body, std::vector<PushResult>& out,
                                               unsigned max_document_depth = 64);

// Puts `results` in the order of `ids` (the mutations sent), so that results[i] answers
// ids[i]. Any other answer is an error naming the first mismatch, `results` unchanged: a
// mutation without a result, a result for a mutation not sent, two results for one.
std::optional<std::string> match_results(const std::vector<std::string>& ids,
                                         std::vector<PushResult>& results);

// The longest rejection message and cursor kept from a server.
constexpr size_t kMaxServerMessageBytes = 500;
constexpr size_t kMaxCursorBytes = 1024;

// A change whose data nests deeper than `max_document_depth`, or has a key twice, is
// left out (named in `skipped`) and the rest of the page stands: syncd cannot hold it,
// and refusing the page would stop the cursor on it for ever.
std::optional<std::string> parse_pull_response(std::string_view body, PullPage& out,
                                               unsigned max_document_depth);

// A server version as docs/PROTOCOL.md defines it: a decimal integer of 1 to 20 digits
// without sign or leading zero (on the wire a JSON string or number).
bool is_version(std::string_view text);

// True when version `a` is newer than `b`: numeric versions compare as numbers, others
// (stored by an older syncd, which took any string) as different-means-newer.
bool version_newer(const std::string& a, const std::string& b);

}  // namespace syncd
