// The paged KV cache's block manager (DESIGN.md §4): which cache blocks each sequence owns,
// with prefix caching. Pure bookkeeping (no tensors), so it is tested without a model.
//
// - A block holds block_size consecutive tokens of one sequence; a token occupies the same slot
//   (block * block_size + offset) in every cache layer, so one manager serves all layers.
// - Prefix caching: a full block is registered under hash(parent block's hash, its token ids).
//   A lookup walks a prompt's full blocks from the start and reuses registered blocks. A hit is
//   verified exactly, never trusted from the hash: the candidate must hold the same token ids
//   and must have been computed after the very block matched just before it (identified by block
//   id and an allocation generation), so the whole prefix is proven equal and a hash collision
//   can only cost a miss, never return wrong KV.
// - Blocks are reference counted (shared prefixes of concurrent requests). A block whose count
//   drops to 0 becomes free; if it is registered it keeps its KV and stays findable until it is
//   evicted: allocation takes free blocks in LRU order, unregistered ones first, then registered
//   ones least recently freed first (a freed sequence's tail before its head).
// - Watermark: admitting a new sequence must leave watermark_blocks free, so running sequences
//   can grow a while before anyone is preempted (avoids thrashing).
//
// Cost: lookup O(tokens), allocate/free O(blocks touched). Not thread-safe (engine thread only).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <vector>

namespace swiftkv {

// The blocks of one sequence, in order, and how many of them are registered for prefix caching.
struct BlockTable {
  std::vector<int32_t> blocks;
  int64_t num_registered = 0;  // the first num_registered blocks are registered (or dropped
                               // as duplicates); later full blocks are registered after compute
};

// Full blocks of a prompt found in the prefix cache.
struct CachedPrefix {
  std::vector<int32_t> blocks;     // the matching blocks, in order
  int64_t num_tokens = 0;          // blocks.size() * block_size
  int64_t num_queried_tokens = 0;  // tokens the lookup considered (for the hit-rate counters)
};

struct BlockManagerStats {
  int64_t num_blocks = 0;
  int64_t num_used_blocks = 0;       // referenced by at least one sequence
  int64_t num_cached_blocks = 0;     // registered (reusable) blocks, used or free
  int64_t prefix_cache_queries = 0;  // tokens looked up when sequences were admitted
  int64_t prefix_cache_hits = 0;     // of those, tokens found cached
};

class BlockManager {
 public:
  // Hash of a full block given its parent's hash (0 for the first block).
  using HashFn = std::function<uint64_t(uint64_t parent_hash, std::span<const int32_t> tokens)>;

  // `watermark` is the fraction of blocks kept free when admitting new sequences.
  BlockManager(int64_t num_blocks, int64_t block_size, bool enable_prefix_caching,
               double watermark = 0.01, HashFn hash = default_hash);
  BlockManager(const BlockManager&) = delete;
  BlockManager& operator=(const BlockManager&) = delete;

  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  // Blocks available for allocation (free, including evictable cached ones).
  int64_t num_free_blocks() const { return num_free_; }
  int64_t watermark_blocks() const { return watermark_blocks_; }
  BlockManagerStats stats() const;

  // The longest run of cached full blocks at the start of `tokens`, covering at most
  // `max_cached_tokens` tokens (callers pass num_tokens - 1 so that the last token is always
  // computed: its logits are needed). Does not change any state.
  CachedPrefix lookup(std::span<const int32_t> tokens, int64_t max_cached_tokens) const;

  // Grows `table` to cover `num_tokens` slots. An empty table may first take `prefix` (from
  // lookup(), unchanged since: same step), counting it in the hit-rate counters. With
  // `keep_watermark`, fails unless watermark_blocks stay free afterwards. Returns false, with
  // nothing changed, when there are not enough free blocks.
  bool allocate(BlockTable& table, int64_t num_tokens, const CachedPrefix* prefix = nullptr,
                bool keep_watermark = false);

  // Registers the full blocks among the first `num_computed_tokens` of `tokens` (the sequence's
  // tokens, whose KV is now in the cache) for prefix caching.
  void register_computed(BlockTable& table, std::span<const int32_t> tokens,
                         int64_t num_computed_tokens);

  // Releases the table's blocks (tail first, so a sequence's head stays cached longest) and
  // clears it.
  void free(BlockTable& table);

  // Blocks needed to hold `num_tokens` tokens.
  int64_t blocks_for(int64_t num_tokens) const {
    return (num_tokens + block_size_ - 1) / block_size_;
  }

  static uint64_t default_hash(uint64_t parent_hash, std::span<const int32_t> tokens);

 private:
  static constexpr int32_t kNone = -1;

  struct Block {
    int32_t ref_count = 0;
    uint64_t generation = 0;  // bumped whenever the block gets new contents
    bool registered = false;  // in cached_ under `hash`
    uint64_t hash = 0;
    int32_t parent = kNone;  // the block computed just before this one (kNone: first block)
    uint64_t parent_generation = 0;
    std::vector<int32_t> tokens;  // the block's token ids while registered
    int32_t prev = kNone;         // free list links (LRU order, front = evicted first)
    int32_t next = kNone;
    bool in_free_list = false;
  };

  int32_t find_cached(uint64_t hash, std::span<const int32_t> tokens, int32_t parent) const;
  int32_t take_free_block();
  void take_block(int32_t id);  // a cached hit: one more reference
  void release_block(int32_t id);
  void push_free(int32_t id, bool front);
  void unlink_free(int32_t id);
  void unregister(int32_t id);

  int64_t block_size_;
  bool enable_prefix_caching_;
  int64_t watermark_blocks_;
  HashFn hash_;
  std::vector<Block> blocks_;
  int32_t free_head_ = kNone;
  int32_t free_tail_ = kNone;
  int64_t num_free_ = 0;
  std::unordered_map<uint64_t, int32_t> cached_;  // hash -> block (the first one registered)
  int64_t prefix_cache_queries_ = 0;
  int64_t prefix_cache_hits_ = 0;
};

}  // namespace swiftkv
