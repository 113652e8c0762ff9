#include "queue/write_record.h"

#include <cstdint>

namespace syncd {
namespace {

constexpr unsigned char kVersion = 1;

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_text(std::string& out, std::string_view text) {
  put_u32(out, static_cast<uint32_t>(text.size()));
  out.append(text);
}
void put_optional(std::string& out, const std::optional<std::string>& text) {
  out.push_back(text ? 1 : 0);
  if (text) put_text(out, *text);
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == bytes_.size(); }
  unsigned char byte() {
    if (!need(1)) return 0;
    return static_cast<unsigned char>(bytes_[at_++]);
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes_[at_ + i]);
    at_ += 8;
    return v;
  }
  std::string text() {
    if (!need(4)) return {};
    uint32_t size = 0;
    for (int i = 3; i >= 0; --i) size = (size << 8) | static_cast<unsigned char>(bytes_[at_ + i]);
    at_ += 4;
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
  const auto created = static_cast<uint64_t>(m.created_at_ms);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((created >> (8 * i)) & 0xff));
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
  if (in.byte() != kVersion) return std::nullopt;
  unsigned char op = in.byte();
  if (op > static_cast<unsigned char>(MutationOp::del)) return std::nullopt;
  PreparedWrite write;
  Mutation& m = write.mutation;
  m.op = static_cast<MutationOp>(op);
  m.created_at_ms = static_cast<int64_t>(in.u64());
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
