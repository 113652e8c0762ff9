#include "queue/local_writes.h"

#include <gtest/gtest.h>

#include "queue/write_record.h"
#include "tests/queue/local_store_fixture.h"

namespace syncd {
namespace {

class LocalWritesTest : public LocalStoreTest {
 protected:
  LocalWritesTest() : LocalStoreTest(100) {}

  LocalWriteResult write(MutationOp op, const std::string& id, const char* json = nullptr) {
    Transaction tx(*db_);
    LocalWriteResult r = apply_json(writes_, op, id, json);
    tx.commit();
    return r;
  }
};

TEST_F(LocalWritesTest, PutPatchDeleteEachQueueAMutationWithTheLocalView) {
  auto put = write(MutationOp::put, "a", R"({"title":"milk","done":false})");
  auto patch = write(MutationOp::patch, "a", R"({"done":true,"title":null})");
  EXPECT_EQ(*patch.local_data, R"({"done":true})");
  EXPECT_EQ(*docs_.find("notes", "a")->local_data, R"({"done":true})");
  auto del = write(MutationOp::del, "a");
  EXPECT_FALSE(del.local_data);
  EXPECT_FALSE(docs_.find("notes", "a")->visible());

  auto queued = queue_.list(std::nullopt, 10);
  ASSERT_EQ(queued.size(), 3u);
  EXPECT_EQ(queued[0].id, put.mutation_id);
  EXPECT_EQ(queued[0].op, MutationOp::put);
  EXPECT_EQ(*queued[0].payload, R"({"title":"milk","done":false})");
  EXPECT_EQ(queued[1].op, MutationOp::patch);
  EXPECT_EQ(*queued[1].payload, R"({"done":true,"title":null})") << "the patch, not the result";
  EXPECT_EQ(queued[2].id, del.mutation_id);
  EXPECT_FALSE(queued[2].payload);
  EXPECT_EQ(queued[0].created_at_ms, 1'800'000'000'000);
  EXPECT_LT(queued[0].id, queued[1].id);
}

TEST_F(LocalWritesTest, BaseVersionIsTheServerVersionTheViewWasBuiltOn) {
  write(MutationOp::put, "a", R"({"v":1})");
  db_->exec("UPDATE documents SET server_version = '17' WHERE id = 'a'");
  write(MutationOp::patch, "a", R"({"v":2})");
  auto queued = queue_.list(std::nullopt, 10);
  EXPECT_FALSE(queued[0].base_version);
  EXPECT_EQ(*queued[1].base_version, "17");
}

TEST_F(LocalWritesTest, RejectedWritesChangeNothing) {
  auto reason_of = [&](MutationOp op, const char* id, const char* json) {
    try {
      write(op, id, json);
    } catch (const WriteRejected& e) {
      return e.reason();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(reason_of(MutationOp::patch, "missing", R"({"a":1})"), "not_found");
  EXPECT_EQ(reason_of(MutationOp::del, "missing", nullptr), "not_found");
  std::string big = R"({"x":")" + std::string(200, 'y') + R"("})";
  EXPECT_EQ(reason_of(MutationOp::put, "big", big.c_str()), "too_large");
  EXPECT_EQ(queue_.counts().pending, 0);
  EXPECT_FALSE(docs_.find("notes", "missing"));
  EXPECT_FALSE(docs_.find("notes", "big"));
}

TEST_F(LocalWritesTest, SizeLimitAppliesToTheResultingDocument) {
  std::string big = R"({"x":")" + std::string(120, 'y') + R"("})";
  JsonDocument data;
  ASSERT_FALSE(parse_json(big, data));
  Transaction tx(*db_);
  try {
    writes_.apply(LocalWrite{MutationOp::put, "notes", "a", &data});
    FAIL() << "over the limit";
  } catch (const WriteRejected& e) {
    EXPECT_EQ(e.reason(), "too_large");
  }
  tx.commit();
  EXPECT_FALSE(docs_.find("notes", "a"));
  EXPECT_EQ(queue_.counts().pending, 0);
}

TEST_F(LocalWritesTest, RollbackRemovesTheDocumentAndItsMutationTogether) {
  {
    JsonDocument data;
    ASSERT_FALSE(parse_json(R"({"v":1})", data));
    Transaction tx(*db_);
    writes_.apply(LocalWrite{MutationOp::put, "notes", "a", &data});
    // no commit: the guard rolls back
  }
  EXPECT_FALSE(docs_.find("notes", "a"));
  EXPECT_EQ(queue_.counts().pending, 0);
}

TEST_F(LocalWritesTest, ALocalCollectionKeepsItsWritesOutOfTheQueue) {
  writes_.set_directions(Directions(Direction::both, {{"notes", Direction::local}}));
  auto put = write(MutationOp::put, "a", R"({"v":1})");
  write(MutationOp::patch, "a", R"({"w":2})");
  EXPECT_EQ(*docs_.find("notes", "a")->local_data, R"({"v":1,"w":2})");
  EXPECT_FALSE(docs_.find("notes", "a")->pending) << "nothing waits to sync";
  EXPECT_TRUE(queue_.list(std::nullopt, 10).empty());
  EXPECT_EQ(queue_.counts().pending, 0);
  write(MutationOp::del, "a");
  EXPECT_FALSE(docs_.find("notes", "a")->visible());
  EXPECT_TRUE(queue_.list(std::nullopt, 10).empty());
  EXPECT_FALSE(put.mutation_id.empty()) << "answered like any write";
}

TEST_F(LocalWritesTest, APullOnlyCollectionRefusesLocalWritesAsReadOnly) {
  writes_.set_directions(Directions(Direction::both, {{"notes", Direction::pull}}));
  for (MutationOp op : {MutationOp::put, MutationOp::patch, MutationOp::del}) {
    try {
      write(op, "a", op == MutationOp::del ? nullptr : R"({"v":1})");
      ADD_FAILURE() << "written";
    } catch (const WriteRejected& e) {
      EXPECT_EQ(e.reason(), "read_only");
      EXPECT_NE(std::string(e.what()).find("collection notes syncs pull-only"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_TRUE(queue_.list(std::nullopt, 10).empty());
  EXPECT_FALSE(docs_.find("notes", "a"));
}

TEST_F(LocalWritesTest, ForCouchDbATopLevelUnderscoreFieldOrASlashInTheCollectionIsRefused) {
  writes_.set_reserve_underscore_fields(true);
  write(MutationOp::put, "a", R"({"a_b":1,"n":{"_nested":2}})");
  for (auto [op, json] : {std::pair{MutationOp::put, R"({"v":1,"_secret":2})"},
                          std::pair{MutationOp::patch, R"({"_rev":null})"}}) {
    try {
      write(op, "a", json);
      ADD_FAILURE() << "written: " << json;
    } catch (const WriteRejected& e) {
      EXPECT_EQ(e.reason(), "invalid_document");
      EXPECT_NE(std::string(e.what()).find("field \"_"), std::string::npos) << e.what();
    }
  }
  try {
    Transaction tx(*db_);
    JsonDocument data;
    ASSERT_FALSE(parse_json("{}", data));
    writes_.apply(LocalWrite{MutationOp::put, "a/b", "x", &data});
    ADD_FAILURE() << "written to collection a/b";
  } catch (const WriteRejected& e) {
    EXPECT_EQ(e.reason(), "invalid_document");
    EXPECT_NE(std::string(e.what()).find("collection \"a/b\" cannot sync to CouchDB"),
              std::string::npos)
        << e.what();
  }
  try {
    Transaction tx(*db_);
    JsonDocument data;
    ASSERT_FALSE(parse_json("{}", data));
    writes_.apply(LocalWrite{MutationOp::put, "_design", "lock", &data});
    ADD_FAILURE() << "written to collection _design";
  } catch (const WriteRejected& e) {
    EXPECT_EQ(e.reason(), "invalid_document");
    EXPECT_NE(std::string(e.what()).find("ids starting with '_'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(queue_.list(std::nullopt, 10).size(), 1u) << "only the first put";
  // A local collection never reaches CouchDB: its fields are its own.
  writes_.set_directions(Directions(Direction::both, {{"notes", Direction::local}}));
  write(MutationOp::put, "l", R"({"_mine":1})");
  EXPECT_EQ(*docs_.find("notes", "l")->local_data, R"({"_mine":1})");
}

TEST_F(LocalWritesTest, APushOnlyCollectionQueuesItsWritesAsAnyOther) {
  writes_.set_directions(Directions(Direction::local, {{"notes", Direction::push}}));
  write(MutationOp::put, "a", R"({"v":1})");
  EXPECT_EQ(queue_.list(std::nullopt, 10).size(), 1u);
}

TEST(WriteRecord, ALocalWriteRoundTripsAndAVersion1RecordStillReads) {
  PreparedWrite w;
  w.mutation.id = "m1";
  w.mutation.collection = "ui";
  w.mutation.doc_id = "a";
  w.mutation.payload = "{}";
  w.local_data = "{}";
  w.local_only = true;
  std::string bytes = encode_write_record(w);
  auto back = decode_write_record(bytes);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->local_only);
  EXPECT_EQ(back->mutation.id, "m1");
  // Version 1 (written by an older syncd): no flags byte, never local.
  std::string v1 = bytes;
  v1[0] = 1;
  v1.erase(2, 1);
  auto old = decode_write_record(v1);
  ASSERT_TRUE(old);
  EXPECT_FALSE(old->local_only);
  EXPECT_EQ(old->mutation.doc_id, "a");
  std::string unknown_flag = bytes;
  unknown_flag[2] = 4;
  EXPECT_FALSE(decode_write_record(unknown_flag)) << "a flag no syncd knows";
}

}  // namespace
}  // namespace syncd
