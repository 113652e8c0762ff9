#include "sync/body_decoder.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace syncd {
namespace {

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

constexpr size_t kOutputPiece = 16 << 10;
// zlib checks the wrapper's header within its first 2 bytes; a few more to be safe.
constexpr size_t kHeadBytes = 16;

}  // namespace

std::unique_ptr<BodyDecoder> BodyDecoder::for_encoding(std::string_view content_encoding) {
  const std::string encoding = lower_trimmed(content_encoding);
  if (encoding.empty() || encoding == "identity") return nullptr;
  if (encoding == "gzip" || encoding == "x-gzip") {
    return std::unique_ptr<BodyDecoder>(new BodyDecoder(true));
  }
  if (encoding == "deflate") return std::unique_ptr<BodyDecoder>(new BodyDecoder(false));
  std::string shown = encoding.substr(0, 40);
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  throw std::invalid_argument("unsupported Content-Encoding \"" + shown +
                              "\" (syncd asks for gzip or deflate)");
}

BodyDecoder::BodyDecoder(bool gzip) : gzip_(gzip) { init(gzip ? 15 + 16 : 15); }

BodyDecoder::~BodyDecoder() {
  if (ready_) inflateEnd(&z_);
}

void BodyDecoder::init(int window_bits) {
  if (ready_) inflateEnd(&z_);
  z_ = z_stream{};
  // Fails only without memory, which syncd treats as fatal anywhere else too.
  if (inflateInit2(&z_, window_bits) != Z_OK) throw std::bad_alloc();
  ready_ = true;
}

void BodyDecoder::feed(std::string_view wire) {
  input_.assign(wire.data(), wire.size());
  offset_ = 0;
}

std::optional<std::string> BodyDecoder::decode(size_t max_bytes, std::string& out) {
  size_t produced = 0;
  while (!ended_ && has_input() && produced < max_bytes) {
    const size_t piece = std::min(kOutputPiece, max_bytes - produced);
    const size_t at = out.size();
    out.resize(at + piece);
    z_.next_in = reinterpret_cast<Bytef*>(input_.data() + offset_);
    z_.avail_in = static_cast<uInt>(input_.size() - offset_);
    z_.next_out = reinterpret_cast<Bytef*>(out.data() + at);
    z_.avail_out = static_cast<uInt>(piece);
    const int rc = inflate(&z_, Z_NO_FLUSH);
    const size_t made = piece - z_.avail_out;
    out.resize(at + made);
    produced += made;
    const size_t consumed = input_.size() - z_.avail_in - offset_;
    if (!gzip_ && !tried_raw_ && z_.total_out == 0 && head_.size() < kHeadBytes) {
      head_.append(input_, offset_, consumed);
    }
    offset_ += consumed;
    if (rc == Z_STREAM_END) {
      ended_ = true;
    } else if (rc == Z_DATA_ERROR && !gzip_ && !tried_raw_ && z_.total_out == 0) {
      // Some servers send "deflate" without the zlib wrapper (RFC 1951 data only): the
      // wrapper's 2-byte header check fails, and the bytes read so far are read again.
      tried_raw_ = true;
      init(-15);
      input_ = head_ + input_.substr(offset_);
      offset_ = 0;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return std::string(gzip_ ? "gzip" : "deflate") + " body is corrupt (" +
             (z_.msg ? z_.msg : "zlib error " + std::to_string(rc)) + ")";
    } else if (made == 0 && rc == Z_BUF_ERROR) {
      break;  // needs more wire bytes
    }
  }
  if (ended_) offset_ = input_.size();
  return std::nullopt;
}

}  // namespace syncd
