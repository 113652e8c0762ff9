#include "daemon/rpc_frame.h"

#include "util/json_reader.h"

namespace syncd {
namespace {

// Passes every event on to `Inner` and notes where each request's id is in the text. It
// sees every event, also those of skipped containers, so its depth is the text's.
template <class Inner>
class IdRecorder {
 public:
  using Ch = char;
  using SizeType = rapidjson::SizeType;

  IdRecorder(Inner& inner, const JsonTextReader& reader, std::vector<std::string_view>& ids)
      : inner_(inner), reader_(reader), ids_(ids) {}

  bool Null() { return scalar() && inner_.Null(); }
  bool Bool(bool b) { return scalar() && inner_.Bool(b); }
  bool Int(int i) { return scalar() && inner_.Int(i); }
  bool Uint(unsigned i) { return scalar() && inner_.Uint(i); }
  bool Int64(int64_t i) { return scalar() && inner_.Int64(i); }
  bool Uint64(uint64_t i) { return scalar() && inner_.Uint64(i); }
  bool Double(double d) { return scalar() && inner_.Double(d); }
  bool RawNumber(const Ch* s, SizeType n, bool copy) {
    return scalar() && inner_.RawNumber(s, n, copy);
  }
  bool String(const Ch* s, SizeType n, bool copy) { return scalar() && inner_.String(s, n, copy); }
  bool Key(const Ch* s, SizeType n, bool copy) {
    if (depth_ == request_depth()) {
      id_next_ = std::string_view(s, n) == "id" && ids_.back().empty();
      key_end_ = reader_.offset();
    }
    return inner_.Key(s, n, copy);
  }
  bool StartObject() { return container(false) && inner_.StartObject(); }
  bool StartArray() { return container(true) && inner_.StartArray(); }
  bool EndObject(SizeType n) {
    --depth_;
    return inner_.EndObject(n);
  }
  bool EndArray(SizeType n) {
    --depth_;
    return inner_.EndArray(n);
  }
  std::string stop_reason() const { return inner_.stop_reason(); }

 private:
  unsigned request_depth() const { return batch_ ? 2 : 1; }

  // A value starts: maybe a new request (the root, or an element of the batch).
  void value_starts() {
    if (depth_ == 0 ? !batch_ : batch_ && depth_ == 1) ids_.emplace_back();
  }
  bool scalar() {
    value_starts();
    if (id_next_ && depth_ == request_depth()) {
      // From the end of the key to the end of the value: `:` and whitespace, then the id.
      std::string_view raw = reader_.text().substr(key_end_, reader_.offset() - key_end_);
      raw.remove_prefix(std::min(raw.find_first_not_of(" \t\r\n:"), raw.size()));
      ids_.back() = raw;
    }
    id_next_ = false;
    return true;
  }
  bool container(bool array) {
    if (depth_ == 0 && array) batch_ = true;
    value_starts();
    id_next_ = false;
    ++depth_;
    return true;
  }

  Inner& inner_;
  const JsonTextReader& reader_;
  std::vector<std::string_view>& ids_;
  unsigned depth_ = 0;
  bool batch_ = false;
  bool id_next_ = false;  // the next value at request depth is the request's first id
  size_t key_end_ = 0;
};

}  // namespace

std::optional<std::string> decode_frame(std::string_view frame, unsigned max_depth,
                                        JsonDocument& doc, std::vector<std::string_view>& raw_ids) {
  raw_ids.clear();
  JsonTextReader reader(frame);
  JsonDepthFilter<JsonDocument> depth(doc, std::min(max_depth, kMaxJsonDepth), TooDeep::mark);
  IdRecorder<JsonDepthFilter<JsonDocument>> ids(depth, reader, raw_ids);
  return reader.build<false>(doc, ids);
}

}  // namespace syncd
