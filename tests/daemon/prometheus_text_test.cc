// The exposition text: HELP and TYPE once per family, label values and help escaped as
// the format says, integers exact, states as 1 and 0.
#include "daemon/prometheus_text.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(PrometheusText, FamiliesSamplesAndEscapes) {
  PrometheusText p;
  p.family("syncd_x_total", "counter", "a \\ help\nline");
  p.sample("syncd_x_total", int64_t{18446744073709551});
  p.family("syncd_y", "gauge", "why");
  p.sample("syncd_y", 0.25, {{"path", "a\"b\\c\nd"}, {"k", "v"}});
  p.states("syncd_s", {"on", "off"}, "off");
  EXPECT_EQ(p.text(),
            "# HELP syncd_x_total a \\\\ help\\nline\n"
            "# TYPE syncd_x_total counter\n"
            "syncd_x_total 18446744073709551\n"
            "# HELP syncd_y why\n"
            "# TYPE syncd_y gauge\n"
            "syncd_y{path=\"a\\\"b\\\\c\\nd\",k=\"v\"} 0.25\n"
            "syncd_s{state=\"on\"} 0\n"
            "syncd_s{state=\"off\"} 1\n");
}

TEST(PrometheusText, AHistogramHasCumulativeBucketsAnInfBucketASumAndACount) {
  Histogram h({1, 10});
  for (double v : {0.5, 1.0, 3.0, 50.0}) h.observe(v);  // a bound counts in its own bucket
  EXPECT_EQ(h.cumulative(0), 2u);
  EXPECT_EQ(h.cumulative(1), 3u);
  PrometheusText p;
  p.family("syncd_h", "histogram", "h");
  p.histogram("syncd_h", h, {{"request", "push"}});
  EXPECT_EQ(p.text(),
            "# HELP syncd_h h\n"
            "# TYPE syncd_h histogram\n"
            "syncd_h_bucket{request=\"push\",le=\"1\"} 2\n"
            "syncd_h_bucket{request=\"push\",le=\"10\"} 3\n"
            "syncd_h_bucket{request=\"push\",le=\"+Inf\"} 4\n"
            "syncd_h_sum{request=\"push\"} 54.5\n"
            "syncd_h_count{request=\"push\"} 4\n");
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
}

}  // namespace
}  // namespace syncd
