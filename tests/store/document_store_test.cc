#include "store/document_store.h"

#include <gtest/gtest.h>

#include "queue/mutation_queue.h"
#include "tests/test_support.h"

namespace syncd {
namespace {

class DocumentStoreTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<Database> db_ = testing::open_test_database(dir_.file("s.db"));
  DocumentStore docs_{*db_};
  MutationQueue queue_{*db_};

  void put(const std::string& collection, const std::string& id,
           const std::optional<std::string>& data) {
    docs_.set_local_view(collection, id, data, 1000);
  }
  std::vector<std::string> ids(const DocumentPage& page) {
    std::vector<std::string> out;
    for (const auto& d : page.items) out.push_back(d.id);
    return out;
  }
};

TEST_F(DocumentStoreTest, FindReturnsTheLocalViewAndPendingComesFromTheQueue) {
  EXPECT_FALSE(docs_.find("notes", "a"));
  put("notes", "a", R"({"t":1})");
  auto doc = docs_.find("notes", "a");
  ASSERT_TRUE(doc);
  EXPECT_EQ(*doc->local_data, R"({"t":1})");
  EXPECT_FALSE(doc->server_version);
  EXPECT_FALSE(doc->pending);

  Mutation m;
  m.id = "m1";
  m.collection = "notes";
  m.doc_id = "a";
  m.created_at_ms = 1;
  queue_.enqueue(m);
  EXPECT_TRUE(docs_.find("notes", "a")->pending);
  queue_.ack("m1");
  EXPECT_FALSE(docs_.find("notes", "a")->pending);
}

TEST_F(DocumentStoreTest, TombstonesAreKeptButInvisible) {
  put("notes", "a", R"({"t":1})");
  put("notes", "a", std::nullopt);
  auto doc = docs_.find("notes", "a");
  ASSERT_TRUE(doc);  // the row stays: it carries the server version for later writes
  EXPECT_FALSE(doc->visible());
  EXPECT_TRUE(docs_.list("notes", "", std::nullopt, 10).items.empty());
  put("notes", "a", R"({"t":2})");  // a put revives it
  EXPECT_EQ(*docs_.find("notes", "a")->local_data, R"({"t":2})");
}

TEST_F(DocumentStoreTest, ListPagesInIdOrderWithPrefixAndCursor) {
  for (const char* id : {"b2", "a1", "b1", "c1", "b3", "bz"}) put("notes", id, "{}");
  put("other", "b0", "{}");
  put("notes", "b4", std::nullopt);  // tombstone inside the prefix range

  DocumentPage all = docs_.list("notes", "", std::nullopt, 100);
  EXPECT_EQ(ids(all), (std::vector<std::string>{"a1", "b1", "b2", "b3", "bz", "c1"}));
  EXPECT_FALSE(all.next);

  DocumentPage first = docs_.list("notes", "b", std::nullopt, 2);
  EXPECT_EQ(ids(first), (std::vector<std::string>{"b1", "b2"}));
  ASSERT_TRUE(first.next);
  DocumentPage second = docs_.list("notes", "b", first.next, 2);
  EXPECT_EQ(ids(second), (std::vector<std::string>{"b3", "bz"}));
  EXPECT_FALSE(second.next) << "no more ids start with b";
}

TEST_F(DocumentStoreTest, OrderIsByBytesNotLocale) {
  for (const char* id : {"Z", "a", "\xc3\xa9", "0"}) put("c", id, "{}");
  EXPECT_EQ(ids(docs_.list("c", "", std::nullopt, 10)),
            (std::vector<std::string>{"0", "Z", "a", "\xc3\xa9"}));
}

}  // namespace
}  // namespace syncd
