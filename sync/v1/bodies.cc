#include "sync/v1/bodies.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>

#include "store/keys.h"
#include "sync/server_text.h"
#include "util/json.h"

namespace syncd {
namespace {

// A string or an integer on the wire (versions, the cursor); syncd keeps strings.
std::optional<std::string> text_of(const JsonValue& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  return std::nullopt;
}

// Reads the version `v` of `what` into `out`; an error names what is wrong.
std::optional<std::string> read_version(const JsonValue* v, const std::string& what,
                                        std::string& out) {
  std::optional<std::string> text = v ? text_of(*v) : std::nullopt;
  if (!text) return what + " has no version";
  if (!is_version(*text)) {
    return what + " has version \"" + server_text(*text, 40) +
           "\": a version is a decimal integer (docs/PROTOCOL.md)";
  }
  out = std::move(*text);
  return std::nullopt;
}

const JsonValue* field(const JsonValue& object, const char* name) {
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

std::string build_push_body(const std::string& client_id, const std::vector<Mutation>& batch) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("client_id");
  w.String(client_id.data(), static_cast<rapidjson::SizeType>(client_id.size()));
  w.Key("mutations");
  w.StartArray();
  for (const Mutation& m : batch) {
    w.StartObject();
    w.Key("id");
    w.String(m.id.data(), static_cast<rapidjson::SizeType>(m.id.size()));
    w.Key("collection");
    w.String(m.collection.data(), static_cast<rapidjson::SizeType>(m.collection.size()));
    w.Key("doc_id");
    w.String(m.doc_id.data(), static_cast<rapidjson::SizeType>(m.doc_id.size()));
    w.Key("op");
    w.String(to_string(m.op));
    w.Key("base_version");
    if (m.base_version) {
      w.String(m.base_version->data(), static_cast<rapidjson::SizeType>(m.base_version->size()));
    } else {
      w.Null();
    }
    w.Key("data");
    if (m.payload) {
      // Stored payloads are JSON the store itself wrote: copied in as they are.
      w.RawValue(m.payload->data(), m.payload->size(), rapidjson::kObjectType);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> parse_push_response(std::string_view body, std::vector<PushResult>& out,
                                               unsigned max_document_depth) {
  // The answer (1), results (1), a result (1) and its current (1) around a document.
  JsonParseOptions options;
  options.max_depth = max_document_depth + 4;
  options.mark_too_deep = true;
  JsonDocument doc;
  if (auto error = parse_json(body, doc, options)) return "push answer is not JSON: " + *error;
  if (!doc.IsObject()) return "push answer is not an object";
  const JsonValue* results = field(doc, "results");
  if (results == nullptr || !results->IsArray()) return "push answer has no results array";
  for (const auto& r : results->GetArray()) {
    if (!r.IsObject()) return "a push result is not an object";
    const JsonValue* id = field(r, "id");
    const JsonValue* status = field(r, "status");
    if (id == nullptr || !id->IsString()) return "a push result has no string id";
    PushResult result;
    result.id = std::string(id->GetString(), id->GetStringLength());
    const std::string shown = server_text(result.id, 80);
    if (status == nullptr || !status->IsString()) return "push result " + shown + " has no status";
    std::string_view kind(status->GetString(), status->GetStringLength());
    if (kind == "applied") {
      if (auto error = read_version(field(r, "version"), "applied result " + shown, result.version))
        return error;
      result.kind = PushResult::Kind::applied;
    } else if (kind == "conflict") {
      result.kind = PushResult::Kind::conflict;
      const JsonValue* current = field(r, "current");
      if (current == nullptr || !current->IsObject()) {
        return "conflict result " + shown + " has no current document";
      }
      const JsonValue* version = field(*current, "version");
      if (version && !version->IsNull()) {
        std::string v;
        if (auto error = read_version(version, "conflict result " + shown, v)) return error;
        result.current_version = std::move(v);
      }
      const JsonValue* deleted = field(*current, "deleted");
      const JsonValue* data = field(*current, "data");
      bool is_deleted = (deleted && deleted->IsTrue()) || data == nullptr || data->IsNull();
      if (!is_deleted && !result.current_version) {
        return "conflict result " + shown + " has a current document but no version";
      }
      if (!is_deleted) {
        if (!data->IsObject()) return "conflict result " + shown + " has non-object data";
        if (auto problem = check_json_value(*data, max_document_depth)) {
          // syncd cannot hold the server's document: the mutation cannot be resolved
          // against it, and is a dead letter that says why (refusing the whole answer
          // would only bring the same answer again).
          std::string why = describe(*problem, "its current data", max_document_depth);
          if (problem->kind == JsonProblem::Kind::too_deep) why += " (store.max_document_depth)";
          result.kind = PushResult::Kind::rejected;
          result.error = server_text("conflict with a server document syncd cannot hold: " + why,
                                     kMaxServerMessageBytes);
          out.push_back(std::move(result));
          continue;
        }
        result.current_data = to_json(*data);
      }
    } else if (kind == "rejected") {
      result.kind = PushResult::Kind::rejected;
      const JsonValue* error = field(r, "error");
      result.error =
          error && error->IsString()
              ? server_text(std::string_view(error->GetString(), error->GetStringLength()),
                            kMaxServerMessageBytes)
              : "rejected by the server";
    } else {
      return "push result " + shown + " has unknown status " + server_text(kind, 40);
    }
    out.push_back(std::move(result));
  }
  return std::nullopt;
}

std::optional<std::string> parse_pull_response(std::string_view body, PullPage& out,
                                               unsigned max_document_depth) {
  // The page (1), changes (1) and a change (1) around each document.
  JsonParseOptions options;
  options.max_depth = max_document_depth + 3;
  options.mark_too_deep = true;
  JsonDocument doc;
  if (auto error = parse_json(body, doc, options)) return "pull answer is not JSON: " + *error;
  if (!doc.IsObject()) return "pull answer is not an object";
  const JsonValue* changes = field(doc, "changes");
  const JsonValue* cursor = field(doc, "cursor");
  const JsonValue* more = field(doc, "has_more");
  if (changes == nullptr || !changes->IsArray()) return "pull answer has no changes array";
  auto cursor_text = cursor ? text_of(*cursor) : std::nullopt;
  if (!cursor_text) return "pull answer has no cursor";
  if (cursor_text->empty() || cursor_text->size() > kMaxCursorBytes) {
    return "pull answer's cursor is empty or longer than " + std::to_string(kMaxCursorBytes) +
           " bytes";
  }
  if (more == nullptr || !more->IsBool()) return "pull answer has no has_more";
  out.cursor = *cursor_text;
  out.has_more = more->GetBool();
  for (const auto& c : changes->GetArray()) {
    if (!c.IsObject()) return "a pulled change is not an object";
    const JsonValue* collection = field(c, "collection");
    const JsonValue* doc_id = field(c, "doc_id");
    const JsonValue* version = field(c, "version");
    if (!collection || !collection->IsString() || !doc_id || !doc_id->IsString()) {
      return "a pulled change has no collection or doc_id";
    }
    PullChange change{std::string(collection->GetString(), collection->GetStringLength()),
                      std::string(doc_id->GetString(), doc_id->GetStringLength()), "",
                      std::nullopt};
    for (auto [key, what] : {std::pair{&change.collection, "a pulled change's collection"},
                             std::pair{&change.doc_id, "a pulled change's doc_id"}}) {
      if (auto error = check_key(*key, what)) return server_text(*error);
    }
    if (auto error = read_version(version,
                                  "pulled change " + server_text(change.collection, 80) + "/" +
                                      server_text(change.doc_id, 80),
                                  change.version)) {
      return error;
    }
    const JsonValue* deleted = field(c, "deleted");
    const JsonValue* data = field(c, "data");
    const bool is_deleted = deleted && deleted->IsTrue();
    if (!is_deleted && (data == nullptr || data->IsNull())) {
      // Neither a document nor a deletion (docs/PROTOCOL.md): taking it as a deletion
      // would remove the document here on a guess.
      out.skipped.push_back("pulled change " + server_text(change.collection, 80) + "/" +
                            server_text(change.doc_id, 80) + " (version " + change.version +
                            ") skipped: it has no data and is not deleted");
      continue;
    }
    if (!is_deleted) {
      if (!data->IsObject()) {
        return "pulled change " + server_text(change.doc_id, 80) + " has non-object data";
      }
      if (auto problem = check_json_value(*data, max_document_depth)) {
        std::string why = describe(*problem, "its data", max_document_depth);
        if (problem->kind == JsonProblem::Kind::too_deep) why += " (store.max_document_depth)";
        out.skipped.push_back("pulled change " + change.collection + "/" + change.doc_id +
                              " (version " + change.version + ") skipped: " + why);
        continue;
      }
      change.data = to_json(*data);
    }
    out.changes.push_back(std::move(change));
  }
  return std::nullopt;
}

std::optional<std::string> match_results(const std::vector<std::string>& ids,
                                         std::vector<PushResult>& results) {
  std::map<std::string_view, size_t> index;  // mutation id -> its place in the batch
  for (size_t i = 0; i < ids.size(); ++i) index.emplace(ids[i], i);
  constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<size_t> matched(ids.size(), kNone);  // batch place -> index in results
  for (size_t j = 0; j < results.size(); ++j) {
    const PushResult& r = results[j];
    auto it = index.find(r.id);
    if (it == index.end()) return "a result for unknown mutation " + server_text(r.id, 80);
    if (matched[it->second] != kNone) return "two results for mutation " + r.id;
    matched[it->second] = j;
  }
  size_t missing = 0;
  const std::string* first = nullptr;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (matched[i] != kNone) continue;
    if (first == nullptr) first = &ids[i];
    ++missing;
  }
  if (first != nullptr) {
    return "no result for " + std::to_string(missing) + " of the " + std::to_string(ids.size()) +
           " mutations sent (" + *first + " first)";
  }
  std::vector<PushResult> ordered;
  ordered.reserve(ids.size());
  for (size_t j : matched) ordered.push_back(std::move(results[j]));
  results = std::move(ordered);
  return std::nullopt;
}

bool is_version(std::string_view text) {
  if (text.empty() || text.size() > 20) return false;
  if (text.size() > 1 && text.front() == '0') return false;
  return text.find_first_not_of("0123456789") == std::string_view::npos;
}

bool version_newer(const std::string& a, const std::string& b) {
  auto numeric = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (numeric(a) && numeric(b)) {
    if (a.size() != b.size()) return a.size() > b.size();
    return a > b;
  }
  return a != b;
}

}  // namespace syncd
