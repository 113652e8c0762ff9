#include "sync/rejection_bisector.h"

namespace syncd {

RejectionBisector::RejectionBisector(std::vector<std::string> ids) {
  // The whole batch was already refused once: start with its halves.
  if (ids.size() == 1) {
    todo_.push_back(std::move(ids));
    return;
  }
  size_t half = ids.size() / 2;
  todo_.emplace_back(ids.begin(), ids.begin() + static_cast<long>(half));
  todo_.emplace_back(ids.begin() + static_cast<long>(half), ids.end());
}

std::optional<std::vector<std::string>> RejectionBisector::next() {
  if (in_flight_ || todo_.empty()) return std::nullopt;
  in_flight_ = std::move(todo_.front());
  todo_.pop_front();
  ++sent_;
  return in_flight_;
}

void RejectionBisector::report_accepted() {
  if (!in_flight_) return;
  accepted_.insert(accepted_.end(), in_flight_->begin(), in_flight_->end());
  in_flight_.reset();
}

void RejectionBisector::report_refused(const std::string& error) {
  if (!in_flight_) return;
  std::vector<std::string> part = std::move(*in_flight_);
  in_flight_.reset();
  if (part.size() == 1) {
    refused_.emplace_back(part.front(), error);
    return;
  }
  size_t half = part.size() / 2;
  // Depth first, in batch order: the halves go to the front of the queue.
  todo_.emplace_front(part.begin() + static_cast<long>(half), part.end());
  todo_.emplace_front(part.begin(), part.begin() + static_cast<long>(half));
}

}  // namespace syncd
