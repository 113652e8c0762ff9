#pragma once
// Decodes a gzip or deflate response body (Content-Encoding, RFC 9110 section 8.4) a
// bounded piece at a time: one piece of wire bytes is held, and each decode() call
// produces at most the bytes asked for. A compressed body can inflate about 1,000 to 1
// (a gzip bomb), so the caller decides how much output each loop turn may cost and
// where the body cap stops it; nothing here grows with the compression ratio.
#include <zlib.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace syncd {

class BodyDecoder {
 public:
  // For a Content-Encoding value: a decoder for gzip (or x-gzip) and deflate; nullptr
  // for none or identity. Throws std::invalid_argument naming any other encoding.
  static std::unique_ptr<BodyDecoder> for_encoding(std::string_view content_encoding);
  ~BodyDecoder();
  BodyDecoder(const BodyDecoder&) = delete;
  BodyDecoder& operator=(const BodyDecoder&) = delete;

  // Wire bytes still to decode from the last feed().
  bool has_input() const { return offset_ < input_.size(); }
  // Takes the next wire bytes; only once the previous ones are decoded (!has_input()).
  void feed(std::string_view wire);
  // Appends up to `max_bytes` decoded bytes to `out`. An error names what is wrong.
  std::optional<std::string> decode(size_t max_bytes, std::string& out);
  // The compressed stream ended (bytes after its end are ignored).
  bool ended() const { return ended_; }

 private:
  explicit BodyDecoder(bool gzip);
  void init(int window_bits);

  z_stream z_{};
  bool ready_ = false;
  bool gzip_;
  bool tried_raw_ = false;  // "deflate" sent as raw deflate, without the zlib wrapper
  bool ended_ = false;
  std::string head_;  // a deflate body's first bytes, until its format is known
  std::string input_;
  size_t offset_ = 0;
};

}  // namespace syncd
