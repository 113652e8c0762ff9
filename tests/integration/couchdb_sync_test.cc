// syncd with `remote.protocol: "couchdb"` (sync/couchdb/) end to end against PouchDB Server
// 4.2.0 (tests/integration/pouch_server.h), the fault proxy and kill -9. Invariant 2
// (exactly once) is checked on the server itself: the adapter pushes each mutation as the
// revision "<base generation + 1>-<mutation id without dashes>" with new_edits:false, so
// a resend is a no-op, and after a drain the database's update_seq is the number of
// mutations written, each document's revision generation the number of its mutations,
// and its winning revision the one of its last mutation.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/pouch_server.h"

namespace syncd::testing {
namespace {

// The database syncd syncs with (created by the test: the adapter never creates it).
constexpr const char* kDb = "syncd";
constexpr const char* kNotes = "notes";

// A wait's deadline, longer on a sanitizer build.
Millis deadline(int64_t ms) { return Millis(static_cast<int64_t>(ms * kSlowBuild)); }

// Fast retries, as tests/integration/sync_test.cc has them; `sync_extra` adds members to
// "sync" (", \"max_inflight\": 1").
std::string couchdb_config(const std::string& url, const std::string& sync_extra = "",
                           int pull_interval_s = 1, const std::string& auth = "") {
  return R"({)" + auth + R"(
  "remote": {"url": )" +
         json_quote(url) + R"(, "protocol": "couchdb"},
  "backoff": {"initial_ms": 20, "factor": 2, "max_ms": 300},
  "breaker": {"failure_threshold": 5, "cooldown_ms": 100},
  "http": {"connect_timeout_ms": 500, "timeout_ms": 3000, "low_speed_time_s": 2},
  "sync": {"batch_size": 100, "pull_interval_s": )" +
         std::to_string(pull_interval_s) + sync_extra + R"(}
})";
}

// JSON text with every object's keys sorted: the same value gives the same text, whatever
// order the server or the store keep members in.
std::string canonical(const JsonValue& v) {
  if (v.IsObject()) {
    std::map<std::string, std::string> members;
    for (const auto& m : v.GetObject()) {
      members[std::string(m.name.GetString(), m.name.GetStringLength())] = canonical(m.value);
    }
    std::string out = "{";
    for (const auto& [key, text] : members) {
      out += (out.size() > 1 ? "," : "") + json_quote(key) + ":" + text;
    }
    return out + "}";
  }
  if (v.IsArray()) {
    std::string out = "[";
    for (const auto& item : v.GetArray()) out += (out.size() > 1 ? "," : "") + canonical(item);
    return out + "]";
  }
  return to_json(v);
}

std::string canonical(const std::string& text) {
  JsonDocument doc;
  if (auto error = parse_json(text, doc)) return "(not JSON: " + *error + ") " + text;
  return canonical(doc);
}

std::string str(const JsonValue& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

// The generation of a CouchDB revision "3-abc...", -1 when it has none.
int generation(const std::string& rev) {
  char* end = nullptr;
  const long gen = std::strtol(rev.c_str(), &end, 10);
  return end != rev.c_str() && *end == '-' ? static_cast<int>(gen) : -1;
}

// The hash part of the revision the adapter makes for a mutation: its UUID as 32
// lowercase hex digits.
std::string rev_hash(const std::string& mutation_id) {
  std::string out;
  for (char c : mutation_id) {
    if (c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string rev_hash_of(const std::string& rev) {
  const auto dash = rev.find('-');
  return dash == std::string::npos ? "" : rev.substr(dash + 1);
}

// What the test wrote, per CouchDB _id ("notes/n1"): the mutation ids in the order they
// were made, and the end state the server must show (nullopt once deleted).
struct DocModel {
  std::vector<std::string> mutations;
  std::optional<std::string> data;
};

class Model {
 public:
  void put(const std::string& key, const std::string& data, const std::string& mutation_id) {
    DocModel& doc = docs_[key];
    doc.mutations.push_back(mutation_id);
    doc.data = canonical(data);
  }
  // RFC 7386, as syncd's patch: a null member removes the key, objects merge.
  void patch(const std::string& key, const std::string& patch, const std::string& mutation_id) {
    DocModel& doc = docs_[key];
    doc.mutations.push_back(mutation_id);
    JsonDocument target;
    if (!doc.data || parse_json(*doc.data, target)) target.SetObject();
    JsonDocument merge;
    EXPECT_FALSE(parse_json(patch, merge)) << patch;
    apply_merge_patch(target, merge, target.GetAllocator());
    doc.data = canonical(target);
  }
  void remove(const std::string& key, const std::string& mutation_id) {
    DocModel& doc = docs_[key];
    doc.mutations.push_back(mutation_id);
    doc.data.reset();
  }
  const std::map<std::string, DocModel>& docs() const { return docs_; }
  int total() const {
    int n = 0;
    for (const auto& [key, doc] : docs_) n += static_cast<int>(doc.mutations.size());
    return n;
  }

 private:
  std::map<std::string, DocModel> docs_;
};

struct QueueCounts {
  int64_t pending = -1;
  int64_t inflight = -1;
  int64_t failed = -1;
  int64_t conflict = -1;
  bool known() const { return pending >= 0; }
  int64_t waiting() const { return known() ? pending + inflight : -1; }
};

// A leaf of a document in the server's _changes (style=all_docs).
struct ServerLeaves {
  std::vector<std::string> revs;
  bool deleted = false;
};

class CouchdbSync : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!HasFailure()) return;
    if (syncd_) std::cerr << "--- syncd log (end):\n" << tail(syncd_->log()) << "\n";
    if (server_) {
      std::cerr << "--- pouchdb-server output (end):\n" << tail(server_->output()) << "\n";
      std::cerr << "--- pouchdb-server log (end):\n" << tail(server_->log()) << "\n";
    }
    if (proxy_) std::cerr << "--- fault proxy: " << proxy_->command("stats") << "\n";
  }

  static std::string tail(const std::string& text, size_t n = 6000) {
    return text.size() <= n ? text : "..." + text.substr(text.size() - n);
  }

  // Starts PouchDB Server and creates the database.
  void start_server(PouchServerOptions options = {}) {
    server_ = std::make_unique<PouchServer>(dir_, std::move(options));
    ASSERT_TRUE(server_->start()) << server_->error();
    HttpResult r = server_->put(std::string("/") + kDb, "");
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // A fault proxy in front of the server, in `mode` ("pass", "refuse", ...).
  void start_proxy(const std::string& mode) {
    proxy_ = std::make_unique<FaultProxy>(dir_, server_->port());
    ASSERT_TRUE(proxy_->start());
    ASSERT_EQ(proxy_->command(mode), "ok " + mode);
  }

  // Starts syncd on the database at `base` (the server's URL or the proxy's). The harness
  // passes --remote, which replaces remote.url (not the protocol): both name the same URL.
  void start_syncd(const std::string& base, const std::string& sync_extra = "") {
    const std::string url = base + "/" + kDb;
    syncd_ = std::make_unique<Syncd>(dir_, couchdb_config(url, sync_extra, pull_interval_s_, auth_),
                                     std::vector<std::string>{}, url);
    ASSERT_TRUE(syncd_->start()) << syncd_->log();
  }

  // kill -9 and a start on the same state dir.
  void kill_and_restart_syncd() {
    client_.reset();
    syncd_->kill9();
    ASSERT_TRUE(syncd_->start()) << syncd_->log();
  }

  PouchServer& server() { return *server_; }
  FaultProxy& proxy() { return *proxy_; }

  Client& client() {
    if (!client_ || !client_->connected()) client_ = std::make_unique<Client>(syncd_->socket());
    return *client_;
  }

  static std::string params(const std::string& collection, const std::string& id,
                            const std::string& data = "") {
    std::string out = "{\"collection\":" + json_quote(collection) + ",\"id\":" + json_quote(id);
    if (!data.empty()) out += ",\"data\":" + data;
    return out + "}";
  }

  // One local write ("put", "patch" or "delete") through the socket, recorded in model_.
  ::testing::AssertionResult write(const std::string& method, const std::string& id,
                                   const std::string& data = "") {
    JsonDocument answer = client().call(method, params(kNotes, id, data));
    if (!answer.IsObject() || !answer.HasMember("result") ||
        str(answer["result"], "mutation_id").empty()) {
      return ::testing::AssertionFailure()
             << method << " " << id << " " << data << " answered "
             << (answer.IsObject() ? to_json(answer) : std::string("nothing"));
    }
    const std::string mutation_id = str(answer["result"], "mutation_id");
    const std::string key = std::string(kNotes) + "/" + id;
    if (method == "put") {
      model_.put(key, data, mutation_id);
    } else if (method == "patch") {
      model_.patch(key, data, mutation_id);
    } else {
      model_.remove(key, mutation_id);
    }
    return ::testing::AssertionSuccess();
  }

  QueueCounts queue() {
    QueueCounts counts;
    JsonDocument s = client().call("status");
    if (!s.IsObject() || !s.HasMember("result")) return counts;
    const JsonValue& q = s["result"]["queue"];
    counts.pending = q["pending"].GetInt64();
    counts.inflight = q["inflight"].GetInt64();
    counts.failed = q["failed"].GetInt64();
    counts.conflict = q["conflict"].GetInt64();
    return counts;
  }
  bool queue_empty() { return queue().waiting() == 0; }

  std::string last_error() {
    JsonDocument s = client().call("status");
    if (!s.IsObject() || !s.HasMember("result")) return "";
    const JsonValue& r = s["result"];
    return r.HasMember("last_error") && r["last_error"].IsString() ? r["last_error"].GetString()
                                                                   : "";
  }

  std::string connectivity() {
    JsonDocument s = client().call("status");
    return s.IsObject() && s.HasMember("result") ? str(s["result"], "connectivity") : "";
  }

  // The database's update_seq: one per revision the server stored. -1 when unknown.
  int update_seq() {
    JsonDocument info;
    HttpResult r = server().get(std::string("/") + kDb);
    if (r.status != 200 || parse_json(r.body, info) || !info.IsObject() ||
        !info.HasMember("update_seq") || !info["update_seq"].IsInt()) {
      return -1;
    }
    return info["update_seq"].GetInt();
  }

  // GET of one document ("notes/n1"), with its conflicts listed.
  HttpResult server_doc(const std::string& key) {
    return server().get(std::string("/") + kDb + "/" + url_encode(key) + "?conflicts=true");
  }

  // Every document of the database with all its leaf revisions.
  std::map<std::string, ServerLeaves> server_leaves() {
    std::map<std::string, ServerLeaves> out;
    HttpResult r = server().get(std::string("/") + kDb + "/_changes?since=0&style=all_docs");
    JsonDocument changes;
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200 || parse_json(r.body, changes) || !changes.IsObject() ||
        !changes.HasMember("results") || !changes["results"].IsArray()) {
      ADD_FAILURE() << "unreadable _changes: " << r.body;
      return out;
    }
    for (const auto& change : changes["results"].GetArray()) {
      ServerLeaves& leaves = out[str(change, "id")];
      for (const auto& leaf : change["changes"].GetArray()) leaves.revs.push_back(str(leaf, "rev"));
      leaves.deleted = change.HasMember("deleted") && change["deleted"].IsTrue();
    }
    return out;
  }

  // The server holds exactly what the model says, each mutation once: one revision per
  // mutation, one branch per document, the last mutation's revision winning.
  void expect_server_matches(const Model& model) {
    EXPECT_EQ(update_seq(), model.total()) << "revisions stored != mutations written";
    const auto leaves = server_leaves();
    EXPECT_EQ(leaves.size(), model.docs().size()) << "documents on the server";
    for (const auto& [key, doc] : model.docs()) {
      SCOPED_TRACE(key);
      auto found = leaves.find(key);
      if (found == leaves.end()) {
        ADD_FAILURE() << key << " is not on the server";
        continue;
      }
      const ServerLeaves& l = found->second;
      EXPECT_EQ(l.revs.size(), 1u) << "a second branch: a mutation applied on a stale base";
      if (l.revs.size() != 1) continue;
      const std::string& rev = l.revs[0];
      EXPECT_EQ(generation(rev), static_cast<int>(doc.mutations.size())) << rev;
      EXPECT_EQ(rev_hash_of(rev), rev_hash(doc.mutations.back()))
          << rev << " is not the revision of the last mutation " << doc.mutations.back();
      EXPECT_EQ(l.deleted, !doc.data.has_value());
      HttpResult r = server_doc(key);
      if (!doc.data) {
        EXPECT_EQ(r.status, 404) << r.body;
        continue;
      }
      ASSERT_EQ(r.status, 200) << r.body;
      JsonDocument body;
      ASSERT_FALSE(parse_json(r.body, body)) << r.body;
      EXPECT_FALSE(body.HasMember("_conflicts")) << r.body;
      EXPECT_EQ(str(body, "_id"), key);
      EXPECT_EQ(str(body, "_rev"), rev);
      body.RemoveMember("_id");
      body.RemoveMember("_rev");
      EXPECT_EQ(canonical(body), *doc.data);
    }
  }

  // syncd's local view agrees, settled (nothing pending), and shows no CouchDB field.
  void expect_local_matches(const Model& model) {
    for (const auto& [key, doc] : model.docs()) {
      SCOPED_TRACE(key);
      const std::string id = key.substr(key.find('/') + 1);
      JsonDocument got = client().call("get", params(kNotes, id));
      ASSERT_TRUE(got.IsObject()) << "no answer";
      if (!doc.data) {
        ASSERT_TRUE(got.HasMember("error")) << to_json(got);
        EXPECT_EQ(str(got["error"]["data"], "reason"), "not_found");
        continue;
      }
      ASSERT_TRUE(got.HasMember("result")) << to_json(got);
      EXPECT_EQ(canonical(got["result"]["data"]), *doc.data);
      EXPECT_TRUE(got["result"]["pending"].IsFalse());
    }
  }

  TempDir dir_;
  std::unique_ptr<PouchServer> server_;
  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<Syncd> syncd_;
  std::unique_ptr<Client> client_;
  Model model_;
  int pull_interval_s_ = 1;
  std::string auth_;  // members of the config before "remote", each ending in ','
};

std::string doc_id(int d) { return "n" + std::to_string(d); }

// The local data has no top-level member starting with '_'.
std::string underscore_member(const JsonValue& data) {
  if (!data.IsObject()) return "";
  for (const auto& m : data.GetObject()) {
    if (m.name.GetStringLength() > 0 && m.name.GetString()[0] == '_') return m.name.GetString();
  }
  return "";
}

TEST_F(CouchdbSync, OfflineWritesDrainWhenServerAppears) {
  // The server is started once for its port, then goes away; when it comes back on the
  // same port it has no database (an empty one is not kept) until the test makes it.
  PouchServerOptions on_disk;
  on_disk.in_memory = false;
  ASSERT_NO_FATAL_FAILURE(start_server(on_disk));
  server().stop();
  ASSERT_FALSE(server().running());
  ASSERT_NO_FATAL_FAILURE(start_syncd(server().url()));

  // 15 documents, 3 mutations each, written round by round (queue order spans the
  // documents): put-patch-patch, put-patch-delete and put-delete-put.
  for (int step = 0; step < 3; ++step) {
    for (int d = 0; d < 15; ++d) {
      const std::string id = doc_id(d);
      if (step == 0) {
        ASSERT_TRUE(
            write("put", id,
                  R"({"title":"doc )" + std::to_string(d) + R"(","n":0,"tags":{"a":1,"b":2}})"));
      } else if (d % 3 == 0) {
        ASSERT_TRUE(step == 1 ? write("patch", id, R"({"n":1,"tags":{"b":null,"c":3}})")
                              : write("patch", id, R"({"title":null,"n":2,"list":[1,"x"]})"));
      } else if (d % 3 == 1) {
        ASSERT_TRUE(step == 1 ? write("patch", id, R"({"n":1,"tags":"flat"})")
                              : write("delete", id));
      } else {
        ASSERT_TRUE(step == 1 ? write("delete", id) : write("put", id, R"({"again":true})"));
      }
    }
  }
  ASSERT_EQ(model_.total(), 45);
  EXPECT_EQ(queue().waiting(), 45);
  EXPECT_EQ(connectivity(), "offline");

  ASSERT_TRUE(server().start()) << server().error();
  if (server().get(std::string("/") + kDb).status == 404) {
    // A server without the database: syncd says what to do, and waits.
    ASSERT_TRUE(wait_until(
        [&] { return last_error().find("no CouchDB database there") != std::string::npos; },
        deadline(20000)))
        << last_error();
    EXPECT_EQ(queue().waiting(), 45);
    ASSERT_EQ(server().put(std::string("/") + kDb, "").status, 201);
  }
  ASSERT_TRUE(wait_until([&] { return queue_empty(); }, deadline(60000)))
      << "queue: " << queue().waiting() << " waiting, update_seq " << update_seq();
  const QueueCounts q = queue();
  EXPECT_EQ(q.failed, 0);
  EXPECT_EQ(q.conflict, 0);
  EXPECT_NO_FATAL_FAILURE(expect_server_matches(model_));
  EXPECT_NO_FATAL_FAILURE(expect_local_matches(model_));
}

TEST_F(CouchdbSync, LostAcknowledgementsAreNotAppliedTwice) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  ASSERT_NO_FATAL_FAILURE(start_proxy("pass"));
  ASSERT_NO_FATAL_FAILURE(start_syncd(proxy().url()));
  ASSERT_TRUE(wait_until([&] { return connectivity() == "online"; }, deadline(15000)))
      << connectivity();

  constexpr int kDocs = 5;
  constexpr int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Every answer is cut once its first byte comes back: the server has taken the
    // request, syncd hears nothing and sends it again, and again.
    ASSERT_EQ(proxy().command("reset_after 0"), "ok pass");
    for (int d = 0; d < kDocs; ++d) {
      const std::string id = doc_id(d);
      const std::string r = std::to_string(round);
      if (round == 0) {
        ASSERT_TRUE(write("put", id, R"({"round":0,"doc":)" + std::to_string(d) + "}"));
      } else if (d == kDocs - 1 && round == 3) {
        ASSERT_TRUE(write("delete", id));
      } else if (d == kDocs - 1 && round == 4) {
        ASSERT_TRUE(write("put", id, R"({"round":4,"back":true})"));
      } else {
        ASSERT_TRUE(write("patch", id, R"({"round":)" + r + R"(,"r)" + r + R"(":)" + r + "}"));
      }
    }
    // The server applies the whole round although syncd has not heard of one result.
    ASSERT_TRUE(wait_until([&] { return update_seq() >= model_.total(); }, deadline(20000)))
        << "update_seq " << update_seq() << ", written " << model_.total() << "; proxy "
        << proxy().command("stats");
    EXPECT_EQ(update_seq(), model_.total()) << "a resend was stored again";
    EXPECT_EQ(queue().waiting(), kDocs) << "an answer got through the cut";
    ASSERT_EQ(proxy().command("pass"), "ok pass");
    ASSERT_TRUE(wait_until([&] { return queue_empty(); }, deadline(30000)))
        << "queue: " << queue().waiting() << " waiting";
    // The resends that got their answer at last stored nothing new.
    EXPECT_EQ(update_seq(), model_.total());
  }
  const QueueCounts q = queue();
  EXPECT_EQ(q.failed, 0);
  EXPECT_EQ(q.conflict, 0);
  EXPECT_NO_FATAL_FAILURE(expect_server_matches(model_));
  EXPECT_NO_FATAL_FAILURE(expect_local_matches(model_));
}

TEST_F(CouchdbSync, TheContinuousFeedBringsAnotherWritersChangeWithoutWaitingForAPull) {
  // Periodic pulls an hour apart: only a hint from the continuous _changes feed (or the
  // pull after a push) can bring the change.
  pull_interval_s_ = 3600;
  ASSERT_NO_FATAL_FAILURE(start_server());
  ASSERT_NO_FATAL_FAILURE(start_syncd(server().url()));
  ASSERT_TRUE(write("put", "a", R"({"n":1})"));
  ASSERT_TRUE(wait_until([&] { return queue_empty(); }, deadline(20000)));
  // syncd asks for the feed (since=now) as it goes online, before its first push: the
  // server has taken that request before it answered the push, so before any change
  // below.
  auto local_n = [&](const std::string& id) {
    JsonDocument got = client().call("get", params(kNotes, id));
    if (!got.HasMember("result") || !got["result"]["data"].HasMember("n")) return -1;
    return got["result"]["data"]["n"].GetInt();
  };
  for (int round = 2; round <= 4; ++round) {
    JsonDocument a;
    ASSERT_FALSE(parse_json(server_doc("notes/a").body, a));
    const auto start = std::chrono::steady_clock::now();
    HttpResult r =
        server().put(std::string("/") + kDb + "/" + url_encode("notes/a"),
                     R"({"_rev":")" + str(a, "_rev") + R"(","n":)" + std::to_string(round) + "}");
    ASSERT_EQ(r.status, 201) << r.body;
    ASSERT_TRUE(wait_until([&] { return local_n("a") == round; }, deadline(10000)))
        << "round " << round << ": local n " << local_n("a");
    std::cerr
        << "round " << round << ": another writer's change local after "
        << std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start).count()
        << " ms\n";
  }
}

TEST_F(CouchdbSync, AnotherWritersChangeAndDeleteArePulled) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  ASSERT_NO_FATAL_FAILURE(start_syncd(server().url()));
  ASSERT_TRUE(write("put", "a", R"({"title":"mine","n":1})"));
  ASSERT_TRUE(write("put", "b", R"({"title":"doomed"})"));
  ASSERT_TRUE(wait_until([&] { return queue_empty(); }, deadline(20000)))
      << "queue: " << queue().waiting() << " waiting";
  EXPECT_NO_FATAL_FAILURE(expect_server_matches(model_));

  // Another writer: a new revision of notes/a on its current one, a delete of notes/b,
  // and a document of its own.
  JsonDocument a;
  ASSERT_FALSE(parse_json(server_doc("notes/a").body, a));
  const std::string a_rev = str(a, "_rev");
  HttpResult r =
      server().put(std::string("/") + kDb + "/" + url_encode("notes/a"),
                   R"({"_rev":")" + a_rev + R"(","title":"theirs","n":2,"nested":{"x":1}})");
  ASSERT_EQ(r.status, 201) << r.body;
  JsonDocument b;
  ASSERT_FALSE(parse_json(server_doc("notes/b").body, b));
  r = server().send(
      "DELETE", std::string("/") + kDb + "/" + url_encode("notes/b") + "?rev=" + str(b, "_rev"));
  ASSERT_EQ(r.status, 200) << r.body;
  r = server().put(std::string("/") + kDb + "/" + url_encode("notes/c"), R"({"from":"other"})");
  ASSERT_EQ(r.status, 201) << r.body;

  const std::string theirs = canonical(R"({"title":"theirs","n":2,"nested":{"x":1}})");
  auto local = [&](const std::string& id) { return client().call("get", params(kNotes, id)); };
  ASSERT_TRUE(wait_until(
      [&] {
        JsonDocument got = local("a");
        return got.HasMember("result") && canonical(got["result"]["data"]) == theirs;
      },
      deadline(20000)))
      << to_json(local("a"));
  ASSERT_TRUE(wait_until(
      [&] {
        JsonDocument got = local("b");
        return got.HasMember("error") && str(got["error"]["data"], "reason") == "not_found";
      },
      deadline(20000)))
      << to_json(local("b"));
  ASSERT_TRUE(wait_until([&] { return local("c").HasMember("result"); }, deadline(20000)))
      << to_json(local("c"));

  JsonDocument got_a = local("a");
  EXPECT_EQ(underscore_member(got_a["result"]["data"]), "") << to_json(got_a);
  EXPECT_TRUE(got_a["result"]["pending"].IsFalse());
  JsonDocument got_c = local("c");
  EXPECT_EQ(canonical(got_c["result"]["data"]), canonical(R"({"from":"other"})"));
  EXPECT_EQ(underscore_member(got_c["result"]["data"]), "") << to_json(got_c);

  // A local change on top of the pulled revision extends it: generation 3, no branch.
  JsonDocument patched = client().call("patch", params(kNotes, "a", R"({"n":3})"));
  ASSERT_TRUE(patched.HasMember("result")) << to_json(patched);
  const std::string patch_id = str(patched["result"], "mutation_id");
  ASSERT_TRUE(wait_until([&] { return queue_empty(); }, deadline(20000)))
      << "queue: " << queue().waiting() << " waiting";
  r = server_doc("notes/a");
  ASSERT_EQ(r.status, 200) << r.body;
  JsonDocument server_a;
  ASSERT_FALSE(parse_json(r.body, server_a)) << r.body;
  EXPECT_EQ(str(server_a, "_rev"), "3-" + rev_hash(patch_id)) << r.body;
  EXPECT_FALSE(server_a.HasMember("_conflicts")) << r.body;
  server_a.RemoveMember("_id");
  server_a.RemoveMember("_rev");
  EXPECT_EQ(canonical(server_a), canonical(R"({"title":"theirs","n":3,"nested":{"x":1}})"));
  const QueueCounts q = queue();
  EXPECT_EQ(q.failed, 0);
  EXPECT_EQ(q.conflict, 0);
}

TEST_F(CouchdbSync, KillNineDuringDrainIsExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  ASSERT_NO_FATAL_FAILURE(start_proxy("refuse"));
  ASSERT_NO_FATAL_FAILURE(start_syncd(proxy().url(), R"(, "max_inflight": 1)"));

  // 900 mutations over 30 documents, queued offline round by round. Most documents are
  // put then patched; every sixth ends deleted, and every sixth (another one) is
  // deleted and put again halfway.
  constexpr int kDocs = 30;
  constexpr int kSteps = 30;
  for (int step = 0; step < kSteps; ++step) {
    for (int d = 0; d < kDocs; ++d) {
      const std::string id = doc_id(d);
      const std::string k = std::to_string(step);
      if (step == 0) {
        ASSERT_TRUE(write("put", id, R"({"doc":)" + std::to_string(d) + R"(,"k":0})"));
      } else if (d % 6 == 0 && step == kSteps - 1) {
        ASSERT_TRUE(write("delete", id));
      } else if (d % 6 == 1 && step == 10) {
        ASSERT_TRUE(write("delete", id));
      } else if (d % 6 == 1 && step == 11) {
        ASSERT_TRUE(write("put", id, R"({"reborn":)" + k + "}"));
      } else {
        ASSERT_TRUE(write(
            "patch", id, R"({"k":)" + k + R"(,"f)" + std::to_string(step % 7) + R"(":)" + k + "}"));
      }
    }
  }
  ASSERT_EQ(model_.total(), 900);
  EXPECT_EQ(queue().waiting(), 900);

  // One push at a time, each answer 150 ms late per chunk: a kill right after the server
  // moved on most likely lands between a push applied and its answer.
  ASSERT_EQ(proxy().command("latency 150"), "ok refuse");
  ASSERT_EQ(proxy().command("pass"), "ok pass");
  constexpr int kKills = 10;
  int kills_during_drain = 0;
  std::string seqs_at_kills;
  for (int kill = 1; kill <= kKills; ++kill) {
    const int threshold = model_.total() * kill / (kKills + 1);
    ASSERT_TRUE(
        wait_until([&] { return update_seq() >= threshold || queue_empty(); }, deadline(60000)))
        << "kill " << kill << ": update_seq " << update_seq() << " < " << threshold;
    if (queue().waiting() > 0) ++kills_during_drain;
    seqs_at_kills += " " + std::to_string(update_seq());
    ASSERT_NO_FATAL_FAILURE(kill_and_restart_syncd()) << "kill " << kill;
  }
  EXPECT_GE(kills_during_drain, kKills - 1) << "update_seq at the kills:" << seqs_at_kills;

  ASSERT_TRUE(wait_until([&] { return queue_empty(); }, deadline(180000)))
      << "queue: " << queue().waiting() << " waiting, update_seq " << update_seq();
  const QueueCounts q = queue();
  EXPECT_EQ(q.failed, 0);
  EXPECT_EQ(q.conflict, 0);
  EXPECT_NO_FATAL_FAILURE(expect_server_matches(model_))
      << "update_seq at the kills:" << seqs_at_kills;
  EXPECT_NO_FATAL_FAILURE(expect_local_matches(model_));
}

TEST_F(CouchdbSync, UnderscoreFieldIsRefused) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  ASSERT_NO_FATAL_FAILURE(start_syncd(server().url()));

  // CouchDB keeps top-level names starting with '_' for itself: refused at write time,
  // before anything is stored or queued.
  JsonDocument refused = client().call("put", params(kNotes, "secret", R"({"_secret":1})"));
  ASSERT_TRUE(refused.IsObject() && refused.HasMember("error")) << to_json(refused);
  EXPECT_EQ(str(refused["error"]["data"], "reason"), "invalid_document") << to_json(refused);
  EXPECT_NE(to_json(refused["error"]).find("_secret"), std::string::npos)
      << "the error does not name the field: " << to_json(refused);
  JsonDocument got = client().call("get", params(kNotes, "secret"));
  EXPECT_EQ(str(got["error"]["data"], "reason"), "not_found") << to_json(got);
  EXPECT_EQ(queue().waiting(), 0);

  // An underscore elsewhere in a name is an ordinary field.
  ASSERT_TRUE(write("put", "fine", R"({"a_b":1})"));
  ASSERT_TRUE(wait_until([&] { return queue_empty(); }, deadline(20000)))
      << "queue: " << queue().waiting() << " waiting";
  EXPECT_NO_FATAL_FAILURE(expect_server_matches(model_));
  EXPECT_NO_FATAL_FAILURE(expect_local_matches(model_));
}

// Another writer stores what syncd cannot read (PouchDB Server takes a lone surrogate):
// that one change is passed over and named, the changes around it are pulled, and later
// ones too.
TEST_F(CouchdbSync, AnUnreadableDocumentIsPassedOverAndDoesNotStopThePull) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  ASSERT_NO_FATAL_FAILURE(start_syncd(server().url()));
  const std::string db = std::string("/") + kDb + "/";
  ASSERT_EQ(server().put(db + url_encode("notes/before"), R"({"n":1})").status, 201);
  HttpResult bad = server().put(db + url_encode("notes/bad"), R"({"v":"\ud800"})");
  ASSERT_EQ(bad.status, 201) << bad.body;
  ASSERT_EQ(server().put(db + url_encode("notes/after"), R"({"n":2})").status, 201);
  auto visible = [&](const std::string& id) {
    return client().call("get", params(kNotes, id)).HasMember("result");
  };
  ASSERT_TRUE(wait_until([&] { return visible("before") && visible("after"); }, deadline(20000)))
      << last_error();
  EXPECT_FALSE(visible("bad"));
  EXPECT_NE(last_error().find("pulled change notes/bad"), std::string::npos) << last_error();
  EXPECT_NE(last_error().find("cannot be read"), std::string::npos) << last_error();
  ASSERT_EQ(server().put(db + url_encode("notes/later"), R"({"n":3})").status, 201);
  EXPECT_TRUE(wait_until([&] { return visible("later"); }, deadline(20000))) << last_error();
}

// A members-only database (CouchDB 3 has no other kind without an admin's say): basic
// auth with the password from a file of mode 0600 drains the queue; without the right
// credentials the writes wait, with `auth: failed`, and none is a dead letter.
TEST_F(CouchdbSync, BasicAuthFromAPasswordFileReachesAMembersOnlyDatabase) {
  PouchServerOptions admin;
  admin.admin_name = "boss";
  admin.admin_password = "s3:cret";
  ASSERT_NO_FATAL_FAILURE(start_server(admin));
  ASSERT_EQ(server()
                .put(std::string("/") + kDb + "/_security",
                     R"({"members":{"names":["boss"],"roles":[]}})")
                .status,
            200);
  const std::string password_file = dir_.file("password");
  write_file(password_file, "wrong\n");
  ASSERT_EQ(::chmod(password_file.c_str(), 0600), 0);
  auth_ = R"("auth": {"username": "boss", "password_file": )" + json_quote(password_file) + "},";
  ASSERT_NO_FATAL_FAILURE(start_syncd(server().url()));
  ASSERT_TRUE(write("put", "a", R"({"n":1})"));
  auto auth_state = [&] {
    JsonDocument s = client().call("status");
    return s.HasMember("result") ? str(s["result"], "auth") : "";
  };
  ASSERT_TRUE(wait_until([&] { return auth_state() == "failed"; }, deadline(20000)))
      << auth_state() << "\n"
      << syncd_->log();
  EXPECT_EQ(queue().waiting(), 1);
  EXPECT_EQ(queue().failed, 0) << "a refused credential is not a refused document";
  EXPECT_EQ(syncd_->log().find("wrong"), std::string::npos) << "the password is never logged";

  // The right password, at the next start.
  syncd_->stop();
  write_file(password_file, "s3:cret\n");
  ASSERT_TRUE(syncd_->start()) << syncd_->log();
  client_.reset();
  ASSERT_TRUE(wait_until([&] { return queue_empty(); }, deadline(20000)))
      << "queue: " << queue().waiting() << " waiting, auth " << auth_state();
  EXPECT_EQ(auth_state(), "ok");
  EXPECT_NO_FATAL_FAILURE(expect_server_matches(model_));
  EXPECT_EQ(syncd_->log().find("s3:cret"), std::string::npos) << "the password is never logged";
}

TEST_F(CouchdbSync, APasswordFileOthersMayReadStopsTheStartNamingIt) {
  ASSERT_NO_FATAL_FAILURE(start_server());
  const std::string password_file = dir_.file("password");
  write_file(password_file, "pw\n");
  ASSERT_EQ(::chmod(password_file.c_str(), 0644), 0);
  auth_ = R"("auth": {"username": "boss", "password_file": )" + json_quote(password_file) + "},";
  const std::string url = server().url() + "/" + kDb;
  Syncd syncd(dir_, couchdb_config(url, "", 1, auth_), std::vector<std::string>{}, url);
  EXPECT_FALSE(syncd.start());
  EXPECT_NE(syncd.log().find("auth.password_file: " + password_file +
                             " may be read by group or others (mode 0644): chmod 600 it"),
            std::string::npos)
      << syncd.log();
}

}  // namespace
}  // namespace syncd::testing
