#include "queue/local_writes.h"

namespace syncd {

void LocalWrites::check_size(const std::string& json, const LocalWrite& write) const {
  if (json.size() > max_document_bytes_) {
    throw WriteRejected("too_large", "document " + write.collection + "/" + write.id +
                                         " would be " + std::to_string(json.size()) +
                                         " bytes, over the limit of " +
                                         std::to_string(max_document_bytes_));
  }
}

LocalWriteResult LocalWrites::apply(const LocalWrite& write) {
  PreparedWrite prepared = prepare(write, documents_.write_base(write.collection, write.id));
  store(documents_, queue_, prepared);
  return LocalWriteResult{std::move(prepared.mutation.id), std::move(prepared.local_data)};
}

void LocalWrites::store(DocumentStore& documents, MutationQueue& queue,
                        const PreparedWrite& write) {
  const Mutation& m = write.mutation;
  documents.set_local_view(m.collection, m.doc_id, write.local_data, m.created_at_ms);
  if (!write.local_only) queue.enqueue(m);
}

void LocalWrites::check_couchdb_names(const LocalWrite& write) const {
  if (write.collection.front() == '_') {
    throw WriteRejected("invalid_document",
                        "collection " + json_quote(write.collection) +
                            " cannot sync to CouchDB, which keeps ids starting with '_' "
                            "(_design/, _local/) for itself");
  }
  if (write.collection.find('/') != std::string::npos) {
    throw WriteRejected("invalid_document",
                        "collection " + json_quote(write.collection) +
                            " cannot sync to CouchDB: a '/' in its name would be read back "
                            "as the end of the collection in the _id \"collection/id\"");
  }
  if (write.op == MutationOp::del || write.data == nullptr || !write.data->IsObject()) return;
  for (const auto& member : write.data->GetObject()) {
    const std::string_view name = member_name(member);
    if (!name.empty() && name.front() == '_') {
      throw WriteRejected("invalid_document",
                          "field " + json_quote(name) +
                              " cannot sync to CouchDB, which reserves top-level fields "
                              "starting with '_': rename it");
    }
  }
}

PreparedWrite LocalWrites::prepare(const LocalWrite& write,
                                   const std::optional<DocumentStore::WriteBase>& doc) {
  const Direction direction = directions_.of(write.collection);
  if (direction == Direction::pull) {
    throw WriteRejected("read_only", "collection " + write.collection +
                                         " syncs pull-only (sync.collections): its documents "
                                         "change only from the remote");
  }
  if (reserve_underscore_fields_ && direction != Direction::local) check_couchdb_names(write);
  const bool visible = doc && doc->local_data.has_value();
  Mutation m;
  m.collection = write.collection;
  m.doc_id = write.id;
  m.op = write.op;
  m.base_version = doc ? doc->server_version : std::nullopt;

  PreparedWrite result;
  switch (write.op) {
    case MutationOp::put: {
      if (write.data == nullptr || !write.data->IsObject()) {
        throw WriteRejected("invalid_document", "a document must be a JSON object");
      }
      std::string body = to_json(*write.data);
      check_size(body, write);
      m.payload = body;
      result.local_data = std::move(body);
      break;
    }
    case MutationOp::patch: {
      if (write.data == nullptr || !write.data->IsObject()) {
        throw WriteRejected("invalid_document", "a merge patch must be a JSON object");
      }
      if (!visible) {
        throw WriteRejected("not_found", "no document " + write.collection + "/" + write.id);
      }
      JsonDocument view;
      if (auto error = parse_json(*doc->local_data, view)) {
        throw std::runtime_error("stored document " + write.collection + "/" + write.id +
                                 " is not valid JSON: " + *error);
      }
      apply_merge_patch(view, *write.data, view.GetAllocator());
      std::string body = to_json(view);
      check_size(body, write);
      m.payload = to_json(*write.data);
      result.local_data = std::move(body);
      break;
    }
    case MutationOp::del:
      if (!visible) {
        throw WriteRejected("not_found", "no document " + write.collection + "/" + write.id);
      }
      break;
  }
  m.id = ids_.next();
  m.created_at_ms = clock_.now_ms();
  result.mutation = std::move(m);
  result.local_only = direction == Direction::local;
  return result;
}

std::optional<std::string> apply_mutation(const std::optional<std::string>& before,
                                          const Mutation& m) {
  switch (m.op) {
    case MutationOp::put:
      return m.payload;
    case MutationOp::del:
      return std::nullopt;
    case MutationOp::patch: {
      if (!before || !m.payload) return before;  // the server refuses a patch of nothing
      JsonDocument doc, patch;
      if (parse_json(*before, doc) || parse_json(*m.payload, patch)) return before;
      apply_merge_patch(doc, patch, doc.GetAllocator());
      return to_json(doc);
    }
  }
  return before;
}

std::optional<std::string> rebuild_local_view(DocumentStore& documents, MutationQueue& queue,
                                              std::string_view collection, std::string_view doc_id,
                                              int64_t now_ms) {
  std::optional<StoredDocument> doc = documents.find(collection, doc_id);
  std::optional<std::string> view;
  if (doc && !doc->server_deleted) view = doc->server_data;
  for (const Mutation& m : queue.unfinished_for_document(collection, doc_id)) {
    view = apply_mutation(view, m);
  }
  documents.set_local_view(collection, doc_id, view, now_ms);
  return view;
}

}  // namespace syncd
