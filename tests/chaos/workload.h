#pragma once
// The chaos suite's writers: K client threads putting, patching and deleting documents
// that they all share (a few hot ones, many cold), with bodies up to a few KB, each on
// its own connection, until told to stop or the daemon goes away. Workload owns the
// record of outcomes: every acknowledged mutation id with its document, and how many
// requests ended without an answer (the daemon was killed under them: they may or may
// not have been stored). Each writer's choices come from its own seeded generator, so a
// seed gives the same sequence of requests (not the same interleaving).
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace syncd::chaos {

struct AckedMutation {
  std::string doc_id;
  std::string mutation_id;
};

struct WorkloadShape {
  int writers = 8;
  int documents = 200;
  size_t max_pad_bytes = 6000;
};

class Workload {
 public:
  Workload(WorkloadShape shape, uint64_t seed) : shape_(shape), seed_(seed) {}
  ~Workload() { stop(); }

  // Starts the writers on `socket`; round numbers keep each round's requests distinct.
  void start(const std::string& socket, int round);
  // Stops the writers and waits for them.
  void stop();

  static constexpr const char* kCollection = "chaos";
  std::string doc_id(int index) const { return "d" + std::to_string(index); }
  int documents() const { return shape_.documents; }

  // Outcomes so far (thread-safe).
  std::vector<AckedMutation> acked() const;
  size_t acked_count() const;
  int64_t unanswered() const { return unanswered_; }
  // Errors the daemon answered, by reason word ("" for none): any is unexpected.
  std::map<std::string, int64_t> errors() const;

 private:
  void run_writer(const std::string& socket, int writer, int round);

  const WorkloadShape shape_;
  const uint64_t seed_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::vector<AckedMutation> acked_;
  std::map<std::string, int64_t> errors_;
  std::atomic<int64_t> unanswered_{0};
};

}  // namespace syncd::chaos
