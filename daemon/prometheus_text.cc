#include "daemon/prometheus_text.h"

#include <charconv>

namespace syncd {
namespace {

// HELP text escapes backslash and newline; a label value also the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void PrometheusText::begin_sample(std::string_view name, const Labels& labels) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      append_escaped(out_, labels[i].second, true);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
}

void PrometheusText::sample(std::string_view name, int64_t value, const Labels& labels) {
  begin_sample(name, labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusText::sample(std::string_view name, double value, const Labels& labels) {
  begin_sample(name, labels);
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  out_.append(text, ec == std::errc() ? end : text);
  out_ += '\n';
}

void PrometheusText::histogram(std::string_view name, const Histogram& h, const Labels& labels) {
  const std::string bucket = std::string(name) + "_bucket";
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  char bound[32];
  for (size_t i = 0; i < h.upper_bounds().size(); ++i) {
    auto [end, ec] = std::to_chars(bound, bound + sizeof bound, h.upper_bounds()[i]);
    with_le.back().second = std::string_view(bound, ec == std::errc() ? end - bound : 0);
    sample(bucket, static_cast<int64_t>(h.cumulative(i)), with_le);
  }
  with_le.back().second = "+Inf";
  sample(bucket, static_cast<int64_t>(h.count()), with_le);
  sample(std::string(name) + "_sum", h.sum(), labels);
  sample(std::string(name) + "_count", static_cast<int64_t>(h.count()), labels);
}

void PrometheusText::states(std::string_view name, const std::vector<std::string_view>& all,
                            std::string_view current) {
  for (std::string_view state : all) {
    sample(name, static_cast<int64_t>(state == current), {{"state", state}});
  }
}

}  // namespace syncd
