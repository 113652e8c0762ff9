#pragma once
// The one JSON reader of syncd, for the few places that need SAX events (parse_json in
// util/json.cc, the RPC frame decoder). JsonTextReader runs RapidJSON's iterative parser
// over a text holding one JSON value: its stack is on the heap, so no nesting can
// overflow the thread's stack. JsonDepthFilter sits between the reader and a DOM and
// bounds how deep the DOM nests: the recursive walkers (RapidJSON's Accept, CopyFrom,
// operator==, merge patch, three-way merge) are safe on what it lets through. It also
// converts number text to numbers, exactly (RapidJSON's own conversion is not).
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace syncd {

// Stands in the DOM for a container nested past the limit when TooDeep::mark is asked
// for; recognised by its address (is_too_deep in util/json.h), never by its text.
inline constexpr char kTooDeepMarker[] = "(nested too deep)";

enum class TooDeep {
  fail,  // the parse stops with an error at the first container past the limit
  mark,  // the container is read past (nothing of it is kept) and a marker stands for it
};

// Reads exactly one JSON value from `text`: UTF-8 validated, nothing after it but
// whitespace. While a handler runs, offset() is just past the token that caused the
// event. Owns no copy of the text, which must outlive it.
class JsonTextReader {
 public:
  explicit JsonTextReader(std::string_view text)
      : text_(text), memory_(text.data(), text.size()), stream_(memory_) {}

  // Builds `doc` from the events, sent through `handler` (a filter in front of `doc`);
  // `doc` is null after an error.
  template <bool kRelaxed, class Document, class Handler>
  std::optional<std::string> build(Document& doc, Handler& handler) {
    std::optional<std::string> error;
    auto generate = [&](Document&) {
      error = read<kRelaxed>(handler);
      return !error;
    };
    doc.SetNull();
    doc.Populate(generate);
    return error;
  }

  size_t offset() const { return stream_.Tell(); }
  std::string_view text() const { return text_; }

  // Sends the events to `handler`; nullopt, or "parse error at offset N: why". A handler
  // that stops the parse (returns false) says why in stop_reason().
  template <bool kRelaxed, class Handler>
  std::optional<std::string> read(Handler& handler) {
    // Numbers come as text, converted by the handler (see JsonDepthFilter::RawNumber).
    constexpr unsigned kFlags =
        rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
        rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseNumbersAsStringsFlag |
        (kRelaxed ? rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag : 0u);
    rapidjson::Reader reader;
    rapidjson::ParseResult result = reader.Parse<kFlags>(stream_, handler);
    if (result.IsError()) {
      std::string why = result.Code() == rapidjson::kParseErrorTermination
                            ? handler.stop_reason()
                            : rapidjson::GetParseError_En(result.Code());
      return "parse error at offset " + std::to_string(result.Offset()) + ": " + why;
    }
    size_t end = offset();
    while (end < text_.size() &&
           (text_[end] == ' ' || text_[end] == '\t' || text_[end] == '\r' || text_[end] == '\n')) {
      ++end;
    }
    if (end != text_.size()) {
      return "parse error at offset " + std::to_string(end) +
             ": unexpected data after the JSON value";
    }
    return std::nullopt;
  }

 private:
  std::string_view text_;
  rapidjson::MemoryStream memory_;
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream_;
};

// A SAX handler that passes events on to `Inner` (a JsonDocument, or another filter)
// while the nesting of arrays and objects is at most `max_depth` (the outermost counts
// 1). What happens past it is `mode`'s choice. Invariant: Inner never sees a container
// deeper than max_depth, so a DOM built through it nests at most that deep.
template <class Inner>
class JsonDepthFilter {
 public:
  using Ch = char;
  using SizeType = rapidjson::SizeType;

  JsonDepthFilter(Inner& inner, unsigned max_depth, TooDeep mode)
      : inner_(inner), max_depth_(max_depth), mode_(mode) {}

  bool Null() { return skipping() || inner_.Null(); }
  bool Bool(bool b) { return skipping() || inner_.Bool(b); }
  bool Int(int i) { return skipping() || inner_.Int(i); }
  bool Uint(unsigned i) { return skipping() || inner_.Uint(i); }
  bool Int64(int64_t i) { return skipping() || inner_.Int64(i); }
  bool Uint64(uint64_t i) { return skipping() || inner_.Uint64(i); }
  bool Double(double d) { return skipping() || inner_.Double(d); }
  // The reader hands numbers over as text (valid JSON number syntax), converted here:
  // RapidJSON 1.1.0's own conversion is off by a few units in the last place (a number
  // read and written again came out as another one) and took a 19-digit mantissa with a
  // large exponent for infinity without an error, which no writer can write back (its
  // full-precision mode reads that one as 2.85e-290). Integers become the integer
  // events RapidJSON would send; anything else is correctly rounded by from_chars; a
  // number too big for a double stops the parse, one too small is 0, as before.
  bool RawNumber(const Ch* s, SizeType n, bool) {
    if (skipping()) return true;
    const char* end = s + n;
    if (std::string_view(s, n).find_first_of(".eE") == std::string_view::npos) {
      if (*s == '-') {
        int64_t i = 0;
        auto [at, ec] = std::from_chars(s, end, i);
        if (ec == std::errc() && at == end) return inner_.Int64(i);
      } else {
        uint64_t u = 0;
        auto [at, ec] = std::from_chars(s, end, u);
        if (ec == std::errc() && at == end) return inner_.Uint64(u);
      }
    }
    double d = 0;
    auto [at, ec] = std::from_chars(s, end, d);
    if (ec == std::errc::result_out_of_range) {
      // Over- or underflow: from_chars does not say which, strtod does (infinity or a
      // value near 0). syncd never calls setlocale, so strtod's decimal point is '.'.
      d = std::strtod(std::string(s, n).c_str(), nullptr);
    } else if (ec != std::errc() || at != end) {
      number_error_ = true;  // not reached: the reader checked the syntax
      return false;
    }
    if (std::isinf(d)) {
      number_error_ = true;
      return false;
    }
    return inner_.Double(d);
  }
  bool String(const Ch* s, SizeType n, bool copy) {
    return skipping() || (utf8(s, n) && inner_.String(s, n, copy));
  }
  bool Key(const Ch* s, SizeType n, bool copy) {
    return skipping() || (utf8(s, n) && inner_.Key(s, n, copy));
  }
  bool StartObject() {
    return open([this] { return inner_.StartObject(); });
  }
  bool StartArray() {
    return open([this] { return inner_.StartArray(); });
  }
  bool EndObject(SizeType members) { return close() || inner_.EndObject(members); }
  bool EndArray(SizeType elements) { return close() || inner_.EndArray(elements); }

  // True once a container past max_depth was met (with fail, the parse stopped there).
  bool too_deep() const { return too_deep_; }
  std::string stop_reason() const {
    if (number_error_) return "number too big to be stored as a double";
    if (surrogate_error_) return "a \\u escape names half of a UTF-16 surrogate pair";
    return "nests deeper than " + std::to_string(max_depth_) + " levels of arrays and objects";
  }

 private:
  bool skipping() const { return skip_from_ != 0; }

  // RapidJSON checks the text's bytes and a \uD800-\uDBFF escape's partner, but
  // decodes an escaped lone low surrogate (\uDC00-\uDFFF) into bytes that are not
  // UTF-8 (ED B0-BF xx), which syncd would store and then refuse to read. Any other
  // decoded string is valid UTF-8, so only those bytes are looked for.
  bool utf8(const Ch* s, SizeType n) {
    for (const Ch* p = s; (p = static_cast<const Ch*>(memchr(p, '\xed', s + n - p))); ++p) {
      if (p + 1 < s + n && static_cast<unsigned char>(p[1]) >= 0xa0) {
        surrogate_error_ = true;
        return false;
      }
    }
    return true;
  }

  template <class Start>
  bool open(Start start) {
    ++depth_;
    if (skipping()) return true;
    if (depth_ <= max_depth_) return start();
    too_deep_ = true;
    if (mode_ == TooDeep::fail) return false;
    skip_from_ = depth_;
    return inner_.String(kTooDeepMarker, sizeof kTooDeepMarker - 1, false);
  }
  // True when the end belongs to a skipped container (Inner is not told).
  bool close() {
    const unsigned closing = depth_--;
    if (!skipping()) return false;
    if (closing == skip_from_) skip_from_ = 0;
    return true;
  }

  Inner& inner_;
  const unsigned max_depth_;
  const TooDeep mode_;
  unsigned depth_ = 0;
  unsigned skip_from_ = 0;  // depth of the container being skipped; 0: none
  bool too_deep_ = false;
  bool number_error_ = false;     // the parse stopped at a number no double can hold
  bool surrogate_error_ = false;  // the parse stopped at an escaped lone surrogate
};

}  // namespace syncd
