#pragma once
// Protocol v1 bodies (docs/PROTOCOL.md): the push request built from queued mutations,
// and the push and pull answers parsed and checked. A server answer of the wrong shape
// is an error naming what is wrong, never a crash or a guess.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/mutation.h"

namespace syncd {

std::string build_push_body(const std::string& client_id, const std::vector<Mutation>& batch);

struct PushResult {
  enum class Kind { applied, conflict, rejected };
  std::string id;
  Kind kind = Kind::applied;
  std::string version;                         // applied
  std::optional<std::string> current_version;  // conflict: the server's document
  std::optional<std::string> current_data;     // JSON object text; nullopt when deleted/absent
  std::string error;                           // rejected
};

// nullopt on success, else why the body is not a valid push answer.
std::optional<std::string> parse_push_response(std::string_view body, std::vector<PushResult>& out);

struct PullChange {
  std::string collection;
  std::string doc_id;
  std::string version;
  std::optional<std::string> data;  // nullopt when deleted
};

struct PullPage {
  std::vector<PullChange> changes;
  std::string cursor;
  bool has_more = false;
  // Changes left out, each with why: "pulled change C/ID (version V) skipped: ...".
  std::vector<std::string> skipped;
};

// A change whose data nests deeper than `max_document_depth`, or has a key twice, is
// left out (named in `skipped`) and the rest of the page stands: syncd cannot hold it,
// and refusing the page would stop the cursor on it for ever.
std::optional<std::string> parse_pull_response(std::string_view body, PullPage& out,
                                               unsigned max_document_depth);

// True when version `a` is newer than `b`: numeric versions compare as numbers, others
// as strings of equal length first (longer is newer).
bool version_newer(const std::string& a, const std::string& b);

}  // namespace syncd
