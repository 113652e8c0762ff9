#pragma once
// When the loop may use the tables. Every statement of the loop's connection first
// settles (the journaled writes not yet applied reach the tables), and while the applier
// thread is behind or holds the write lock that work falls on the loop, which then
// answers no client. Work that can wait a few milliseconds (the sync engine's leases,
// acknowledgements and pulls) asks for a moment when settling costs little instead: at
// once, or just after the applier's next commit. Work runs on the loop, in the order
// asked, each exactly once (or not at all when the owner is gone; see the callers).
#include <functional>

namespace syncd {

class TableAccess {
 public:
  using Work = std::function<void()>;
  virtual ~TableAccess() = default;
  virtual void when_cheap(Work work) = 0;
};

// No journal in front of the tables: settling is free, so work runs at once.
class ImmediateTableAccess final : public TableAccess {
 public:
  void when_cheap(Work work) override { work(); }
};

}  // namespace syncd
