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

}  // namespace
}  // namespace syncd
