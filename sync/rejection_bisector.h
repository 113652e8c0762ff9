#pragma once
// Finds the mutations a server refuses when it rejects a whole push (a 4xx that is not
// retryable): the batch is split in halves, each half is sent on its own, and halves
// that are refused again are split further until single mutations remain; those are
// dead-lettered with the server's message and every other mutation goes on. A batch
// holds at most one mutation per document, so sending halves separately keeps
// per-document order. Pure bookkeeping: the caller sends and reports.
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace syncd {

class RejectionBisector {
 public:
  // `ids`: the mutation ids of the refused batch, in batch order.
  explicit RejectionBisector(std::vector<std::string> ids);

  // The next sub-batch to send, or nullopt when every part is settled.
  std::optional<std::vector<std::string>> next();
  // The outcome of the sub-batch last returned by next(): accepted, or refused with the
  // server's message.
  void report_accepted();
  void report_refused(const std::string& error);

  // Mutations isolated as refused, with the server's message.
  const std::vector<std::pair<std::string, std::string>>& refused() const { return refused_; }
  // Mutations sent in sub-batches the server accepted (their per-mutation results apply).
  const std::vector<std::string>& accepted() const { return accepted_; }
  size_t requests_sent() const { return sent_; }

 private:
  std::deque<std::vector<std::string>> todo_;
  std::optional<std::vector<std::string>> in_flight_;
  std::vector<std::pair<std::string, std::string>> refused_;
  std::vector<std::string> accepted_;
  size_t sent_ = 0;
};

}  // namespace syncd
