#include "sync/rejection_bisector.h"

#include <gtest/gtest.h>

#include <set>

namespace syncd {
namespace {

std::vector<std::string> ids(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("m" + std::to_string(i));
  return out;
}

// Plays a server that refuses any request containing one of `bad`.
RejectionBisector run(int n, const std::set<std::string>& bad) {
  RejectionBisector bisector(ids(n));
  while (auto part = bisector.next()) {
    bool refused = false;
    for (const auto& id : *part) refused = refused || bad.count(id) > 0;
    if (refused) {
      bisector.report_refused("field x is invalid");
    } else {
      bisector.report_accepted();
    }
  }
  return bisector;
}

TEST(RejectionBisector, IsolatesOneBadMutationInLogarithmicRequests) {
  RejectionBisector b = run(500, {"m137"});
  ASSERT_EQ(b.refused().size(), 1u);
  EXPECT_EQ(b.refused()[0].first, "m137");
  EXPECT_EQ(b.refused()[0].second, "field x is invalid");
  EXPECT_EQ(b.accepted().size(), 499u);
  EXPECT_LE(b.requests_sent(), 2u * 9 + 2) << "about two requests per halving";
}

TEST(RejectionBisector, IsolatesSeveralAndKeepsBatchOrderForTheRest) {
  RejectionBisector b = run(10, {"m0", "m5", "m9"});
  std::vector<std::string> refused;
  for (const auto& [id, error] : b.refused()) refused.push_back(id);
  EXPECT_EQ(refused, (std::vector<std::string>{"m0", "m5", "m9"}));
  EXPECT_EQ(b.accepted(), (std::vector<std::string>{"m1", "m2", "m3", "m4", "m6", "m7", "m8"}));
}

TEST(RejectionBisector, ASingleMutationBatchIsItsOwnCulprit) {
  RejectionBisector b = run(1, {"m0"});
  EXPECT_EQ(b.refused().size(), 1u);
  EXPECT_EQ(b.requests_sent(), 1u);
}

TEST(RejectionBisector, OneSubBatchAtATime) {
  RejectionBisector b(ids(4));
  ASSERT_TRUE(b.next());
  EXPECT_FALSE(b.next()) << "the next part waits for the outcome of the one in flight";
  b.report_accepted();
  EXPECT_TRUE(b.next());
}

}  // namespace
}  // namespace syncd
