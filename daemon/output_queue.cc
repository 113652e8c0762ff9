#include "daemon/output_queue.h"

#include <algorithm>
#include <cstring>

namespace syncd {

void OutputQueue::count(ptrdiff_t delta) {
  total_ += static_cast<size_t>(delta);
  if (group_ != nullptr) *group_ += static_cast<size_t>(delta);
}

void OutputQueue::count_in(size_t* group) {
  if (group_ != nullptr) *group_ -= held_bytes();
  group_ = group;
  if (group_ != nullptr) *group_ += held_bytes();
}

void OutputQueue::append(std::string_view bytes) {
  while (!bytes.empty()) {
    if (chunks_.empty() || tail_ == kChunkBytes) {
      chunks_.push_back(std::make_unique_for_overwrite<char[]>(kChunkBytes));
      count(static_cast<ptrdiff_t>(kChunkBytes));
      tail_ = 0;
    }
    const size_t n = std::min(bytes.size(), kChunkBytes - tail_);
    std::memcpy(chunks_.back().get() + tail_, bytes.data(), n);
    tail_ += n;
    unsent_ += n;
    bytes.remove_prefix(n);
  }
}

void OutputQueue::append_from(OutputQueue& other) {
  uv_buf_t bufs[8];
  while (!other.empty()) {
    const size_t n = other.peek(bufs, 8);
    size_t taken = 0;
    for (size_t i = 0; i < n; ++i) {
      append(std::string_view(bufs[i].base, bufs[i].len));
      taken += bufs[i].len;
    }
    other.consume(taken);
  }
}

size_t OutputQueue::held_after(size_t bytes) const {
  const size_t room = chunks_.empty() ? 0 : kChunkBytes - tail_;
  if (bytes <= room) return held_bytes();
  return held_bytes() + (bytes - room + kChunkBytes - 1) / kChunkBytes * kChunkBytes;
}

size_t OutputQueue::peek(uv_buf_t* bufs, size_t max) const {
  size_t n = 0;
  for (size_t i = 0; i < chunks_.size() && n < max; ++i) {
    const size_t from = i == 0 ? head_ : 0;
    const size_t to = i + 1 == chunks_.size() ? tail_ : kChunkBytes;
    if (to > from) {
      bufs[n++] = uv_buf_init(chunks_[i].get() + from, static_cast<unsigned>(to - from));
    }
  }
  return n;
}

void OutputQueue::consume(size_t bytes) {
  bytes = std::min(bytes, unsent_);
  unsent_ -= bytes;
  head_ += bytes;
  // Every chunk but the last is full, so whole chunks before head_ are done.
  while (!chunks_.empty() && (head_ >= kChunkBytes || (chunks_.size() == 1 && head_ == tail_))) {
    head_ -= chunks_.size() == 1 ? head_ : kChunkBytes;
    chunks_.pop_front();
    count(-static_cast<ptrdiff_t>(kChunkBytes));
  }
  if (chunks_.empty()) head_ = tail_ = 0;
}

void OutputQueue::drop_after(size_t keep) {
  if (keep >= unsent_) return;
  if (keep == 0) return clear();
  const size_t end = head_ + keep;  // offset of the last kept byte + 1 from the front chunk
  const size_t chunks = (end + kChunkBytes - 1) / kChunkBytes;
  while (chunks_.size() > chunks) {
    chunks_.pop_back();
    count(-static_cast<ptrdiff_t>(kChunkBytes));
  }
  tail_ = end - (chunks - 1) * kChunkBytes;
  unsent_ = keep;
}

void OutputQueue::clear() {
  count(-static_cast<ptrdiff_t>(held_bytes()));
  chunks_.clear();
  head_ = tail_ = unsent_ = 0;
}

}  // namespace syncd
