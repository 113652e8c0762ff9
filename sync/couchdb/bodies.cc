#include "sync/couchdb/bodies.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <map>

#include "store/keys.h"
#include "sync/server_text.h"
#include "util/json.h"
#include "util/url_encode.h"

namespace syncd::couchdb {
namespace {

constexpr size_t kMaxHashBytes = 128;
constexpr size_t kMaxServerMessageBytes = 500;

const JsonValue* field(const JsonValue& object, const char* name) {
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string_view text(const JsonValue& v) { return {v.GetString(), v.GetStringLength()}; }

// A UUID's 32 hex digits, lower case; nullopt for anything else.
std::optional<std::string> uuid_hex(std::string_view id) {
  std::string hex;
  for (char c : id) {
    if (c == '-') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    hex.push_back(c);
  }
  if (hex.size() != 32) return std::nullopt;
  return hex;
}

void write_string(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// A sequence (`seq`, `last_seq`) as syncd keeps it: a number's digits or a string's text.
std::optional<std::string> sequence_text(const JsonValue& v) {
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsString()) return std::string(text(v));
  return std::nullopt;
}

}  // namespace

std::string document_id(std::string_view collection, std::string_view doc_id) {
  std::string id;
  id.reserve(collection.size() + 1 + doc_id.size());
  id.append(collection).append("/").append(doc_id);
  return id;
}

std::optional<Revision> parse_revision(std::string_view s) {
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 19 || s[0] == '0') return std::nullopt;
  Revision r;
  auto [end, ec] = std::from_chars(s.data(), s.data() + dash, r.generation);
  if (ec != std::errc() || end != s.data() + dash) return std::nullopt;
  std::string_view hash = s.substr(dash + 1);
  if (hash.empty() || hash.size() > kMaxHashBytes) return std::nullopt;
  for (char c : hash) {
    if (c < 0x21 || c > 0x7e) return std::nullopt;
  }
  r.hash = std::string(hash);
  return r;
}

bool revision_newer(const std::string& a, const std::string& b) { return a != b; }

std::string MutationRevision::text() const {
  return std::to_string(revision.generation) + "-" + revision.hash;
}

std::optional<std::string> revision_of(const Mutation& m, MutationRevision& out) {
  std::optional<std::string> hex = uuid_hex(m.id);
  if (!hex) return "mutation id " + server_text(m.id, 80) + " is not a UUID";
  MutationRevision r;
  if (m.base_version) {
    r.base = parse_revision(*m.base_version);
    if (!r.base) {
      return "its base version \"" + server_text(*m.base_version, 80) +
             "\" is not a CouchDB revision (was remote.protocol changed?)";
    }
    if (r.base->generation == UINT64_MAX) return "its base revision has the last generation";
  }
  r.revision = Revision{r.base ? r.base->generation + 1 : 1, std::move(*hex)};
  out = std::move(r);
  return std::nullopt;
}

std::optional<std::string> reserved_field(std::string_view object_json) {
  JsonDocument doc;
  if (parse_json(object_json, doc) || !doc.IsObject()) return std::nullopt;
  for (const auto& m : doc.GetObject()) {
    if (m.name.GetStringLength() > 0 && m.name.GetString()[0] == '_') {
      return std::string(m.name.GetString(), m.name.GetStringLength());
    }
  }
  return std::nullopt;
}

std::string build_bulk_docs_body(const std::vector<Mutation>& batch,
                                 const std::vector<MutationRevision>& revisions) {
  std::string body = R"({"new_edits":false,"docs":[)";
  for (size_t i = 0; i < batch.size(); ++i) {
    const Mutation& m = batch[i];
    const MutationRevision& r = revisions[i];
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("_id");
    write_string(w, document_id(m.collection, m.doc_id));
    w.Key("_rev");
    write_string(w, r.text());
    w.Key("_revisions");
    w.StartObject();
    w.Key("start");
    w.Uint64(r.revision.generation);
    w.Key("ids");
    w.StartArray();
    write_string(w, r.revision.hash);
    if (r.base) write_string(w, r.base->hash);
    w.EndArray();
    w.EndObject();
    if (m.op == MutationOp::del) {
      w.Key("_deleted");
      w.Bool(true);
    }
    w.EndObject();
    std::string head(buffer.GetString(), buffer.GetSize());
    if (i > 0) body += ',';
    // The user's fields follow: the stored payload is a JSON object the store wrote, and
    // holds no '_' field (refused at write time, and checked again before a push).
    const std::string_view payload =
        m.op == MutationOp::del || !m.payload ? std::string_view("{}") : *m.payload;
    head.pop_back();  // the '}'
    body += head;
    const std::string_view members = payload.substr(1);  // after the '{'
    if (members != "}") body += ',';
    body += members;
  }
  body += "]}";
  return body;
}

std::optional<std::string> parse_bulk_docs_response(std::string_view body,
                                                    const std::vector<Mutation>& batch,
                                                    const std::vector<MutationRevision>& revisions,
                                                    std::vector<PushResult>& out) {
  JsonParseOptions options;
  options.max_depth = 8;
  JsonDocument doc;
  if (auto error = parse_json(body, doc, options))
    return "_bulk_docs answer is not JSON: " + *error;
  if (!doc.IsArray()) return "_bulk_docs answer is not an array";
  std::map<std::string, size_t> index;  // document _id -> its place in the batch
  for (size_t i = 0; i < batch.size(); ++i) {
    index.emplace(document_id(batch[i].collection, batch[i].doc_id), i);
  }
  std::vector<PushResult> results(batch.size());
  std::vector<bool> answered(batch.size(), false);
  for (size_t i = 0; i < batch.size(); ++i) {
    results[i].id = batch[i].id;
    results[i].kind = PushResult::Kind::applied;
    results[i].version = revisions[i].text();
  }
  for (const auto& entry : doc.GetArray()) {
    if (!entry.IsObject()) return "a _bulk_docs result is not an object";
    const JsonValue* id = field(entry, "id");
    if (id == nullptr || !id->IsString()) return "a _bulk_docs result has no string id";
    auto it = index.find(std::string(text(*id)));
    if (it == index.end()) {
      return "a _bulk_docs result for document " + server_text(text(*id), 80) + ", not sent";
    }
    if (answered[it->second]) return "two _bulk_docs results for " + server_text(text(*id), 80);
    answered[it->second] = true;
    const JsonValue* error = field(entry, "error");
    if (error == nullptr || error->IsNull()) continue;  // {"ok": true, "id", "rev"}: written
    const JsonValue* reason = field(entry, "reason");
    std::string why = error->IsString() ? std::string(text(*error)) : "error";
    if (reason && reason->IsString()) why += ": " + std::string(text(*reason));
    results[it->second].kind = PushResult::Kind::rejected;
    results[it->second].version.clear();
    results[it->second].error = server_text(why, kMaxServerMessageBytes);
  }
  out = std::move(results);
  return std::nullopt;
}

std::string since_parameter(const std::string& cursor) { return url_encode(cursor); }

std::optional<std::string> parse_changes_response(std::string_view body, size_t limit,
                                                  unsigned max_document_depth, PullPage& out) {
  // The page (1), results (1) and a result (1) around each document.
  JsonParseOptions options;
  options.max_depth = max_document_depth + 3;
  options.mark_too_deep = true;
  JsonDocument doc;
  if (auto error = parse_json(body, doc, options)) return std::string(kNotJson) + ": " + *error;
  if (!doc.IsObject()) return "_changes answer is not an object";
  const JsonValue* results = field(doc, "results");
  const JsonValue* last_seq = field(doc, "last_seq");
  if (results == nullptr || !results->IsArray()) return "_changes answer has no results array";
  std::optional<std::string> cursor = last_seq ? sequence_text(*last_seq) : std::nullopt;
  if (!cursor) return "_changes answer has no last_seq";
  if (cursor->empty() || cursor->size() > kMaxSequenceBytes) {
    return "_changes answer's last_seq is empty or longer than " +
           std::to_string(kMaxSequenceBytes) + " bytes";
  }
  out.cursor = std::move(*cursor);
  const JsonValue* pending = field(doc, "pending");
  if (pending != nullptr && pending->IsNumber()) {
    out.has_more = pending->IsUint64() ? pending->GetUint64() > 0 : pending->GetDouble() > 0;
  } else {
    out.has_more = limit > 0 && results->Size() >= limit;
  }
  for (auto& r : results->GetArray()) {
    if (!r.IsObject()) return "a _changes result is not an object";
    const JsonValue* id = field(r, "id");
    if (id == nullptr || !id->IsString()) return "a _changes result has no string id";
    const std::string_view couch_id = text(*id);
    const size_t slash = couch_id.find('/');
    if (couch_id.starts_with("_design/") || slash == std::string_view::npos) {
      ++out.passed_over;
      continue;
    }
    PullChange change{std::string(couch_id.substr(0, slash)),
                      std::string(couch_id.substr(slash + 1)), "", std::nullopt};
    if (check_key(change.collection, "c") || check_key(change.doc_id, "i")) {
      ++out.passed_over;  // not a document syncd wrote or can hold under that name
      continue;
    }
    const std::string shown = server_text(couch_id, 160);
    const JsonValue* changes = field(r, "changes");
    const JsonValue* rev = nullptr;
    if (changes && changes->IsArray() && !changes->Empty() && (*changes)[0].IsObject()) {
      rev = field((*changes)[0], "rev");
    }
    const JsonValue* d = field(r, "doc");
    if (d && d->IsObject()) {
      if (const JsonValue* doc_rev = field(*d, "_rev"); doc_rev && doc_rev->IsString()) {
        rev = doc_rev;  // the revision whose body this is
      }
    }
    if (rev == nullptr || !rev->IsString()) return "_changes result " + shown + " has no revision";
    if (!parse_revision(text(*rev))) {
      // Another writer's new_edits:false may store any revision text: this change is
      // passed over, not the page (which would stop every pull on it).
      out.skipped.push_back("pulled change " + shown + " skipped: its revision \"" +
                            server_text(text(*rev), 80) + "\" is not N-hash");
      continue;
    }
    change.version = std::string(text(*rev));
    const JsonValue* deleted = field(r, "deleted");
    if (deleted && deleted->IsTrue()) {
      out.changes.push_back(std::move(change));
      continue;
    }
    if (d == nullptr) return "_changes result " + shown + " has no doc (include_docs)";
    if (!d->IsObject()) return "_changes result " + shown + " has a doc that is not an object";
    if (auto problem = check_json_value(*d, max_document_depth)) {
      std::string why = describe(*problem, "its data", max_document_depth);
      if (problem->kind == JsonProblem::Kind::too_deep) why += " (store.max_document_depth)";
      out.skipped.push_back("pulled change " + shown + " (version " +
                            server_text(change.version, 80) + ") skipped: " + why);
      continue;
    }
    JsonValue& body_of = const_cast<JsonValue&>(*d);
    JsonValue user(rapidjson::kObjectType);
    for (auto& m : body_of.GetObject()) {
      if (m.name.GetStringLength() > 0 && m.name.GetString()[0] == '_') continue;
      user.AddMember(m.name, m.value, doc.GetAllocator());
    }
    change.data = to_json(user);
    out.changes.push_back(std::move(change));
  }
  return std::nullopt;
}

std::optional<std::string> parse_change_to_skip(std::string_view body, const std::string& why,
                                                PullPage& out) {
  JsonParseOptions options;
  options.max_depth = 8;
  JsonDocument doc;
  if (auto error = parse_json(body, doc, options)) return std::string(kNotJson) + ": " + *error;
  if (!doc.IsObject()) return "_changes answer is not an object";
  const JsonValue* results = field(doc, "results");
  const JsonValue* last_seq = field(doc, "last_seq");
  if (results == nullptr || !results->IsArray()) return "_changes answer has no results array";
  std::optional<std::string> cursor = last_seq ? sequence_text(*last_seq) : std::nullopt;
  if (!cursor || cursor->empty() || cursor->size() > kMaxSequenceBytes) {
    return "_changes answer has no usable last_seq";
  }
  out.cursor = std::move(*cursor);
  out.has_more = !results->Empty();
  for (const auto& r : results->GetArray()) {
    const JsonValue* id = r.IsObject() ? field(r, "id") : nullptr;
    const JsonValue* changes = r.IsObject() ? field(r, "changes") : nullptr;
    std::string rev = "?";
    if (changes && changes->IsArray() && !changes->Empty() && (*changes)[0].IsObject()) {
      const JsonValue* v = field((*changes)[0], "rev");
      if (v && v->IsString()) rev = server_text(text(*v), 80);
    }
    const std::string shown = id && id->IsString() ? server_text(text(*id), 160) : "?";
    out.skipped.push_back("pulled change " + shown + " (version " + rev +
                          ") skipped: its document cannot be read: " + server_text(why, 200));
  }
  return std::nullopt;
}

}  // namespace syncd::couchdb
