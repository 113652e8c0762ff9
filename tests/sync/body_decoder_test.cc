#include "sync/body_decoder.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <stdexcept>

namespace syncd {
namespace {

// `text` compressed with zlib's window bits: 15 + 16 gzip, 15 zlib, -15 raw deflate.
std::string compress(const std::string& text, int window_bits) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Feeds `wire` in pieces of `piece` bytes, decoding at most `step` bytes per call.
std::string decode_all(BodyDecoder& d, const std::string& wire, size_t piece, size_t step) {
  std::string out;
  for (size_t i = 0; i < wire.size(); i += piece) {
    d.feed(std::string_view(wire).substr(i, piece));
    while (d.has_input()) {
      const size_t before = out.size();
      if (auto error = d.decode(step, out)) {
        ADD_FAILURE() << *error;
        return out;
      }
      EXPECT_LE(out.size() - before, step);
    }
  }
  return out;
}

TEST(BodyDecoder, GzipAndBothFormsOfDeflateWhateverTheSplit) {
  const std::string text = std::string(100000, 'a') + "{\"results\":[]}" + std::string(5000, 'b');
  for (auto [encoding, bits] : {std::pair{"gzip", 31}, std::pair{"x-gzip", 31},
                                std::pair{"deflate", 15}, std::pair{"Deflate", -15}}) {
    for (size_t piece : {1, 7, 1000, 100000}) {
      auto d = BodyDecoder::for_encoding(encoding);
      ASSERT_TRUE(d);
      EXPECT_EQ(decode_all(*d, compress(text, bits), piece, 4096), text) << encoding << piece;
      EXPECT_TRUE(d->ended());
    }
  }
}

TEST(BodyDecoder, NoEncodingNeedsNoDecoderAndOthersAreNamed) {
  EXPECT_EQ(BodyDecoder::for_encoding(""), nullptr);
  EXPECT_EQ(BodyDecoder::for_encoding(" identity "), nullptr);
  try {
    BodyDecoder::for_encoding("br");
    FAIL() << "br is not decoded";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"br\""), std::string::npos) << e.what();
  }
  EXPECT_THROW(BodyDecoder::for_encoding("gzip, gzip"), std::invalid_argument);
}

TEST(BodyDecoder, ABombInflatesNoFasterThanAsked) {
  const std::string wire = compress(std::string(16 << 20, '\0'), 31);
  ASSERT_LT(wire.size(), 32u << 10);
  auto d = BodyDecoder::for_encoding("gzip");
  d->feed(wire);
  std::string out;
  EXPECT_FALSE(d->decode(1 << 20, out));
  EXPECT_EQ(out.size(), 1u << 20) << "one call, one MiB, however much the wire bytes hold";
  EXPECT_TRUE(d->has_input());
  EXPECT_FALSE(d->ended());
}

TEST(BodyDecoder, CorruptBytesAreAnErrorAndATruncatedStreamHasNoEnd) {
  auto d = BodyDecoder::for_encoding("gzip");
  d->feed("this is not gzip at all");
  std::string out;
  auto error = d->decode(1024, out);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("gzip body is corrupt"), std::string::npos) << *error;

  const std::string wire = compress(std::string(10000, 'x'), 31);
  auto t = BodyDecoder::for_encoding("gzip");
  EXPECT_LT(decode_all(*t, wire.substr(0, wire.size() / 2), 100, 1 << 20).size(), 10000u);
  EXPECT_FALSE(t->ended());
}

}  // namespace
}  // namespace syncd
