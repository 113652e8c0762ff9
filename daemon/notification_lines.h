#pragma once
// The text of the notifications syncd sends subscribers (docs/PROTOCOL.md). A change is
// serialised once for every subscriber: only the subscription id differs between them.
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/methods.h"
#include "daemon/output_queue.h"

namespace syncd {

class ChangeLine {
 public:
  explicit ChangeLine(const ChangeEvent& change);
  // The line's length with its "\n", for the subscription whose id is `digits`.
  size_t bytes(std::string_view digits) const;
  // Appends the line and its "\n" for the subscription whose id is `digits`.
  void append_to(OutputQueue& out, std::string_view digits) const;

 private:
  std::string rest_;  // everything after the subscription id
};

// Tells a subscriber that `missed` changes were not sent to it because it did not read
// (reason slow_reader); what it sees next is live again.
std::string gap_line(int64_t subscription, uint64_t missed);

}  // namespace syncd
