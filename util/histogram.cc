#include "util/histogram.h"

#include <algorithm>
#include <stdexcept>

namespace syncd {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), in_bucket_(bounds_.size() + 1, 0) {
  if (std::adjacent_find(bounds_.begin(), bounds_.end(), std::greater_equal<>()) != bounds_.end()) {
    throw std::invalid_argument("histogram bounds must increase");
  }
}

void Histogram::observe(double value) {
  const auto at = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++in_bucket_[static_cast<size_t>(at - bounds_.begin())];
  ++count_;
  sum_ += value;
}

uint64_t Histogram::cumulative(size_t i) const {
  uint64_t total = 0;
  for (size_t b = 0; b <= i && b < in_bucket_.size(); ++b) total += in_bucket_[b];
  return total;
}

}  // namespace syncd
