#pragma once
// Observations counted in fixed buckets, with their count and sum: what a Prometheus
// histogram exposes. The upper bounds are fixed at construction and strictly increasing;
// a value above the last goes in the implicit +Inf bucket. observe() is allocation-free.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace syncd {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double value);

  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Observations at or below upper_bounds()[i] (cumulative, as Prometheus counts them).
  uint64_t cumulative(size_t i) const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> in_bucket_;  // per bucket, not cumulative; the last is +Inf
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace syncd
