#pragma once
// A Bloom filter over document keys (collection, id). It answers "certainly never
// stored" for almost every new key, so the write path can skip reading the documents
// table for it. It must never wrongly say absent: every key is added before its row is
// inserted (DocumentStore adds the keys it writes; JournaledWrites those it journals).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace syncd {

class KeyFilter {
 public:
  // About 1% false "maybe" answers up to `capacity` keys; more past it.
  explicit KeyFilter(size_t capacity);
  void add(std::string_view collection, std::string_view id);
  bool may_contain(std::string_view collection, std::string_view id) const;
  // Keys that set at least one new bit: about the distinct keys added.
  size_t added() const { return added_; }
  size_t capacity() const { return capacity_; }

 private:
  static constexpr int kHashes = 7;
  std::vector<uint64_t> words_;
  uint64_t bits_ = 0;
  size_t capacity_ = 0;
  size_t added_ = 0;
};

}  // namespace syncd
