#pragma once
// What the local-write tests share: a test database with a document store and a queue,
// LocalWrites on a fake clock and seeded ids, and one write given as JSON text.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "queue/local_writes.h"
#include "tests/test_support.h"

namespace syncd {

class LocalStoreTest : public ::testing::Test {
 protected:
  explicit LocalStoreTest(size_t max_document_bytes)
      : writes_{docs_, queue_, ids_, clock_, max_document_bytes} {}

  // Applies `op` to notes/`id` with `json` as its data (none when null).
  static LocalWriteResult apply_json(LocalWriter& writer, MutationOp op, const std::string& id,
                                     const char* json) {
    JsonDocument data;
    if (json) {
      EXPECT_FALSE(parse_json(json, data));
    }
    return writer.apply(LocalWrite{op, "notes", id, json ? &data : nullptr});
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("w.db"));
  DocumentStore docs_{*db_};
  MutationQueue queue_{*db_};
  FakeClock clock_{1'800'000'000'000};
  Xoshiro256 random_{9};
  Uuid7Generator ids_{clock_, random_};
  LocalWrites writes_;
};

}  // namespace syncd
