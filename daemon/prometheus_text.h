#pragma once
// The Prometheus text exposition format (version 0.0.4): metric families, each with its
// HELP and TYPE lines once, then its samples, label values escaped. A family is opened
// before its samples, and a counter's name ends in _total, so any Prometheus parser
// reads the text as written.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/histogram.h"

namespace syncd {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

  // type: counter, gauge, histogram. The name is syncd_-prefixed by the caller.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, int64_t value, const Labels& labels = {});
  void sample(std::string_view name, double value, const Labels& labels = {});
  // One sample per state, 1 for `current` and 0 for the others: a state set.
  void states(std::string_view name, const std::vector<std::string_view>& all,
              std::string_view current);

  // The samples of a histogram family (name_bucket for each bound and +Inf, name_sum,
  // name_count), with `labels` on each.
  void histogram(std::string_view name, const Histogram& h, const Labels& labels = {});

  const std::string& text() const { return out_; }

 private:
  void begin_sample(std::string_view name, const Labels& labels);
  std::string out_;
};

}  // namespace syncd
