#pragma once
// A TableAccess that never runs work at once: each piece waits for a later turn of the
// loop, one a turn, as work does behind a busy applier. The engine must reach the same
// outcomes through it as through ImmediateTableAccess.
#include <uv.h>

#include <deque>

#include "queue/table_access.h"

namespace syncd::testing {

class DeferredTableAccess final : public TableAccess {
 public:
  explicit DeferredTableAccess(uv_loop_t* loop) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
  }
  // Before the loop's last run: the handle closes, work still waiting is dropped.
  void close() {
    waiting_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  }
  void when_cheap(Work work) override {
    waiting_.push_back(std::move(work));
    if (waiting_.size() == 1) arm();
  }
  size_t deferred() const { return deferred_; }

 private:
  void arm() {
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<DeferredTableAccess*>(t->data)->run_one(); }, 0,
        0);
  }
  void run_one() {
    if (waiting_.empty()) return;
    Work work = std::move(waiting_.front());
    waiting_.pop_front();
    ++deferred_;
    work();
    if (!waiting_.empty()) arm();
  }

  uv_timer_t timer_{};
  std::deque<Work> waiting_;
  size_t deferred_ = 0;
};

}  // namespace syncd::testing
