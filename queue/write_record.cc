#include "queue/write_record.h"

#include <cstdint>

#include "util/little_endian.h"

namespace syncd {
namespace {

// Version 2 added a flags byte after the op (kLocalOnly); version 1 records still read.
constexpr unsigned char kVersion = 2;
constexpr unsigned char kLocalOnly = 1;

void put_text(std::string& out, std::string_view text) {
  append_le(out, static_cast<uint32_t>(text.size()));
  out.append(text);
}
void put_optional(std::string& out, const std::optional<std::string>& text) {
  out.push_back(text ? 1 : 0);
  if (text) put_text(out, *text);
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return ok_ && at_ == bytes_.size(); }
  unsigned char byte() {
    if (!need(1)) return 0;
    return static_cast<unsigned char>(bytes_[at_++]);
  }
  template <typename T>
  T integer() {
    if (!need(sizeof(T))) return 0;
    T v = load_le<T>(bytes_.data() + at_);
    at_ += sizeof(T);
    return v;
  }
  std::string text() {
    const auto size = integer<uint32_t>();
    if (!need(size)) return {};
    std::string out(bytes_.substr(at_, size));
    at_ += size;
    return out;
  }
  std::optional<std::string> optional_text() {
    unsigned char present = byte();
    if (present > 1) ok_ = false;
    if (present != 1) return std::nullopt;
    return text();
  }

 private:
  bool need(size_t n) {
    if (!ok_ || bytes_.size() - at_ < n) ok_ = false;
    return ok_;
  }
  std::string_view bytes_;
  size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string encode_write_record(const PreparedWrite& write) {
  const Mutation& m = write.mutation;
  std::string out;
  out.reserve(64 + m.id.size() + m.collection.size() + m.doc_id.size() +
              (m.payload ? m.payload->size() : 0) +
              (write.local_data ? write.local_data->size() : 0));
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(m.op));
  out.push_back(static_cast<char>(write.local_only ? kLocalOnly : 0));
  append_le(out, static_cast<uint64_t>(m.created_at_ms));
  put_text(out, m.id);
  put_text(out, m.collection);
  put_text(out, m.doc_id);
  put_optional(out, m.base_version);
  put_optional(out, m.payload);
  put_optional(out, write.local_data);
  return out;
}

std::optional<PreparedWrite> decode_write_record(std::string_view bytes) {
  Reader in(bytes);
  const unsigned char version = in.byte();
  if (version != 1 && version != kVersion) return std::nullopt;
  unsigned char op = in.byte();
  if (op > static_cast<unsigned char>(MutationOp::del)) return std::nullopt;
  const unsigned char flags = version >= 2 ? in.byte() : 0;
  if ((flags & ~kLocalOnly) != 0) return std::nullopt;
  PreparedWrite write;
  write.local_only = (flags & kLocalOnly) != 0;
  Mutation& m = write.mutation;
  m.op = static_cast<MutationOp>(op);
  m.created_at_ms = static_cast<int64_t>(in.integer<uint64_t>());
  m.id = in.text();
  m.collection = in.text();
  m.doc_id = in.text();
  m.base_version = in.optional_text();
  m.payload = in.optional_text();
  write.local_data = in.optional_text();
  if (!in.done() || m.id.empty()) return std::nullopt;
  return write;
}

}  // namespace syncd
