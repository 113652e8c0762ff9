#pragma once
// An in-memory remote for the engine's shared suite: a FakeServer answers HTTP requests
// as one protocol's server would (dedupe by mutation id, increasing versions, conflicts
// on a stale base), and its faults are protocol-neutral switches, so every protocol's
// fake is driven by the same tests. The PumpedTransport keeps requests until pump()
// answers them, never inside send(), as a real transport would.
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sync/http_transport.h"

namespace syncd::testing {

class FakeServer {
 public:
  struct Doc {
    int64_t version = 0;
    std::optional<std::string> data;  // nullopt: deleted
  };
  virtual ~FakeServer() = default;
  // The protocol's name in config (remote.protocol).
  virtual std::string protocol() const = 0;
  // The answer its server gives to `request`, faults included.
  virtual HttpResponse answer(const HttpRequest& request) = 0;
  // A change made on the server by another device.
  virtual void remote_write(const std::string& collection, const std::string& id,
                            std::optional<std::string> data) = 0;

  // Faults, each counting down per request it hits.
  int busy_next = 0;                 // answer "try later" (503 or the protocol's like)
  int busy_pushes_next = 0;          // the same, for pushes only
  int lose_answer_of_next_push = 0;  // apply a push, then lose its answer
  std::string refuse_requests_with;  // a push carrying this doc id is refused whole

  // What the server holds and did.
  std::map<std::pair<std::string, std::string>, Doc> docs;
  std::map<std::string, int> times_applied;  // mutation id -> applications
  std::vector<std::string> applied_order;    // "collection/id" per application
  int requests = 0;
  int push_requests = 0;  // every push that reached the server, answered or not
  int64_t version = 0;
};

std::unique_ptr<FakeServer> make_fake_v1_server();

class PumpedTransport final : public HttpTransport {
 public:
  explicit PumpedTransport(FakeServer& server) : server_(server) {}
  void send(HttpRequest request, Callback done) override {
    // A change-hint stream stays open and quiet: the tests drive pulls themselves.
    auto& queue = request.on_chunk ? streams_ : pending_;
    queue.push_back({std::move(request), std::move(done)});
  }
  void cancel_all() override {
    pending_.clear();
    streams_.clear();
  }
  size_t in_flight() const override { return pending_.size() + streams_.size(); }

  // Answers every request waiting now (not those their answers cause); the number.
  size_t pump() {
    std::deque<Pending> now;
    now.swap(pending_);
    for (Pending& p : now) {
      ++server_.requests;
      p.done(server_.answer(p.request));
    }
    return now.size();
  }

 private:
  struct Pending {
    HttpRequest request;
    Callback done;
  };
  FakeServer& server_;
  std::deque<Pending> pending_;
  std::deque<Pending> streams_;
};

}  // namespace syncd::testing
