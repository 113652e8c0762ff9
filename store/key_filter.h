#pragma once
// A Bloom filter over document keys (collection, id). It answers "certainly never
// stored" for almost every new key, so the write path can skip reading the documents
// table for it. It must never wrongly say absent: every key is added before its row is
// inserted (DocumentStore adds the keys it writes; JournaledWrites those it journals).
// It grows without a rescan: when a layer is full a twice larger one takes new keys,
// and a key may be in any layer.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace syncd {

class KeyFilter {
 public:
  // About 1% false "maybe" answers per layer; the first layer holds `capacity` keys.
  explicit KeyFilter(size_t capacity);
  // Adds the key; returns whether it may have been there before (may_contain, at once).
  bool add(std::string_view collection, std::string_view id);
  bool may_contain(std::string_view collection, std::string_view id) const;
  // Keys added that no layer held yet: about the distinct keys.
  size_t added() const;
  size_t layers() const { return layers_.size(); }

 private:
  struct Hashes {
    uint64_t first;
    uint64_t step;
  };
  struct Layer {
    explicit Layer(size_t capacity);
    void add(const Hashes& h);
    bool may_contain(const Hashes& h) const;
    std::vector<uint64_t> words;
    uint64_t bits = 0;
    size_t capacity = 0;
    size_t added = 0;
  };
  static Hashes hash_key(std::string_view collection, std::string_view id);
  bool any_layer_may_contain(const Hashes& h) const;
  static constexpr int kHashes = 7;
  std::vector<Layer> layers_;
};

}  // namespace syncd
