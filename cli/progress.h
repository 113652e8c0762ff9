#pragma once
// The progress of a queue draining (syncctl sync --wait, retry --all --wait): how many
// of the mutations queued at the start have been sent, the rate, and the time left, as
// a bar redrawn in place on a terminal or a plain line otherwise. Pure: the counts and
// times come in, so tests are exact.
#include <cstdint>
#include <string>

namespace syncd {

class DrainProgress {
 public:
  // `queued`: pending plus inflight when the wait began.
  DrainProgress(int64_t queued, int64_t start_ms) : total_(queued), start_ms_(start_ms) {}

  // The queue now holds `remaining` (pending plus inflight). Writes made meanwhile grow
  // the total, so the count sent never goes back.
  void update(int64_t remaining, int64_t now_ms);

  int64_t total() const { return total_; }
  int64_t sent() const { return sent_; }
  bool drained() const { return remaining_ == 0; }  // false before the first update
  // Sent per second since the start (0 in the first 100 ms).
  double rate() const;

  // "[##########..........]  500/1000  250/s  about 2 s left" for a terminal, `width`
  // characters of bar; "500 of 1000 sent, 250/s, about 2 s left" otherwise.
  std::string bar(int width) const;
  std::string line() const;

 private:
  std::string tail(const char* separator) const;  // the rate and the time left

  int64_t total_;
  int64_t sent_ = 0;
  int64_t remaining_ = -1;
  int64_t start_ms_;
  int64_t now_ms_ = 0;
};

}  // namespace syncd
