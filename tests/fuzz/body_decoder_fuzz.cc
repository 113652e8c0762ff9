// Fuzz target: the gzip and deflate body decoder (sync/body_decoder.h). The first byte
// picks the encoding, the next four the sizes of the wire pieces and of the output
// asked per decode() call. The decoded body is checked against zlib inflating the
// whole body at once (raw deflate tried when the zlib wrapper is refused before any
// output, as the decoder does), and no decode() call may give more than was asked.
// Output is capped at 1 MiB, as the response cap would stop a bomb.
#include <zlib.h>

#include <cstddef>
#include <cstdint>

#include "sync/body_decoder.h"
#include "tests/fuzz/fuzz_support.h"

using namespace syncd;

namespace {

constexpr size_t kCap = 1 << 20;

// Inflates `body` in one go with `window_bits`; nullopt when zlib calls it corrupt or
// it ends early. `out` is all it produced (up to kCap).
std::optional<std::string> inflate_all(std::string_view body, int window_bits, std::string& out,
                                       bool& error_before_output) {
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) fuzz::fail("inflateInit2");
  out.assign(kCap, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  out.resize(kCap - z.avail_out);
  error_before_output = rc == Z_DATA_ERROR && z.total_out == 0;
  inflateEnd(&z);
  if (rc == Z_STREAM_END) return out;
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  fuzz::Steering steer(body);
  const bool gzip = steer.byte() & 1;
  const size_t wire_piece = 1 + steer.byte() % 64;
  const size_t out_piece = 1 + (steer.byte() | steer.byte() << 8);

  auto decoder = BodyDecoder::for_encoding(gzip ? "gzip" : "deflate");
  std::string decoded;
  bool corrupt = false;
  for (size_t at = 0; at < body.size() && !corrupt && !decoder->ended() && decoded.size() < kCap;) {
    decoder->feed(body.substr(at, wire_piece));
    at += std::min(wire_piece, body.size() - at);
    while (decoder->has_input() && !corrupt && decoded.size() < kCap) {
      const size_t before = decoded.size();
      if (decoder->decode(out_piece, decoded)) corrupt = true;
      if (decoded.size() - before > out_piece) fuzz::fail("decode() gave more than was asked");
      if (decoded.size() == before && decoder->has_input() && !corrupt && !decoder->ended()) {
        fuzz::fail("decode() stopped with wire bytes left and nothing made");
      }
    }
  }

  std::string expected;
  bool raw_retry = false;
  std::optional<std::string> whole = inflate_all(body, gzip ? 15 + 16 : 15, expected, raw_retry);
  if (!gzip && !whole && raw_retry) whole = inflate_all(body, -15, expected, raw_retry);
  // Only complete bodies under the cap are compared whole; otherwise the common prefix.
  if (decoder->ended() && whole && decoded != *whole)
    fuzz::fail("the decoder and zlib disagree on the body");
  if (decoder->ended() && !whole && expected.size() < kCap)
    fuzz::fail("the decoder ended a body zlib refuses");
  if (corrupt && whole && whole->size() < kCap) fuzz::fail("the decoder refuses a body zlib reads");
  const size_t n = std::min(decoded.size(), expected.size());
  if (decoded.compare(0, n, expected, 0, n) != 0)
    fuzz::fail("the decoder's bytes differ from zlib's");
  return 0;
}
