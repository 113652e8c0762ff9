#include "util/logger.h"

#include <gtest/gtest.h>

namespace syncd {
namespace {

TEST(Logger, AJsonLineCarriesItsFieldsAsTextsAndNumbers) {
  EXPECT_EQ(format_log_json("2026-12-03T13:00:00.000Z", LogLevel::warning, "sync: dead letter",
                            {{"mutation_id", std::string("m1")},
                             {"http_status", int64_t{409}},
                             {"reason", std::string("a \"quoted\"\nreason \xff")}}),
            R"({"time":"2026-12-03T13:00:00.000Z","level":"warning","message":"sync: dead letter",)"
            R"("mutation_id":"m1","http_status":409,"reason":"a \"quoted\"\nreason )"
            "\xEF\xBF\xBD\"}");
  EXPECT_EQ(format_log_json("t", LogLevel::info, "plain", {}),
            R"({"time":"t","level":"info","message":"plain"})");
}

}  // namespace
}  // namespace syncd
