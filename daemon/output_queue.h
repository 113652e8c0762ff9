#pragma once
// One connection's unsent output: the bytes syncd has produced for a client that the
// kernel has not taken yet, in order. It owns them in fixed chunks of kChunkBytes, so a
// slow reader costs what it holds and no more (no string grown by doubling, no copy per
// write request), and freed chunks are all one size for malloc to reuse.
//
// Invariant: held_bytes() is exactly the memory of its chunks, and the counter given at
// construction (shared by every connection's queue) always includes it, so the server can
// hold the sum to ipc.max_total_output_bytes; so does a second counter when one is given
// (count_in: the queues of one uid's connections). Bytes handed to a write still in flight
// stay held until consume() says the kernel took them.
#include <uv.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <string_view>

namespace syncd {

class OutputQueue {
 public:
  static constexpr size_t kChunkBytes = 16 << 10;

  explicit OutputQueue(size_t& total) : total_(total) {}
  ~OutputQueue() { clear(); }
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  // Also counts held bytes in `*group` from now on (null: no longer); must outlive it.
  void count_in(size_t* group);

  void append(std::string_view bytes);
  // Moves every byte of `other` to the end of this queue.
  void append_from(OutputQueue& other);

  bool empty() const { return unsent_ == 0; }
  size_t unsent_bytes() const { return unsent_; }
  size_t held_bytes() const { return chunks_.size() * kChunkBytes; }
  // What appending `bytes` more would make held_bytes().
  size_t held_after(size_t bytes) const;

  // Points up to `max` buffers at the first unsent bytes, in order; returns how many.
  size_t peek(uv_buf_t* bufs, size_t max) const;
  // The first `bytes` unsent bytes are written: frees the chunks they emptied.
  void consume(size_t bytes);
  // Forgets every unsent byte after the first `keep` (those a write still points at).
  void drop_after(size_t keep);
  void clear();

 private:
  std::deque<std::unique_ptr<char[]>> chunks_;
  size_t head_ = 0;  // first unsent byte in chunks_.front()
  size_t tail_ = 0;  // bytes used in chunks_.back()
  size_t unsent_ = 0;
  void count(ptrdiff_t delta);

  size_t& total_;
  size_t* group_ = nullptr;
};

}  // namespace syncd
