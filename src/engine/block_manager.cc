#include "engine/block_manager.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "core/error.h"

namespace swiftkv {
namespace {

// splitmix64's finaliser: a cheap, well-mixed 64-bit permutation.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t BlockManager::default_hash(uint64_t parent_hash, std::span<const int32_t> tokens) {
  uint64_t h = mix(parent_hash ^ 0x5157'4B56'424C'4B31ULL);  // "QWKVBLK1"
  for (const int32_t token : tokens) {
    h = mix(h ^ static_cast<uint32_t>(token));
  }
  return h;
}

BlockManager::BlockManager(int64_t num_blocks, int64_t block_size, bool enable_prefix_caching,
                           double watermark, HashFn hash)
    : block_size_(block_size),
      enable_prefix_caching_(enable_prefix_caching),
      watermark_blocks_(
          static_cast<int64_t>(std::floor(watermark * static_cast<double>(num_blocks)))),
      hash_(std::move(hash)),
      blocks_(static_cast<size_t>(num_blocks)) {
  SWIFTKV_CHECK(num_blocks > 0 && num_blocks <= INT32_MAX && block_size > 0,
                "num_blocks=", num_blocks, " block_size=", block_size);
  SWIFTKV_CHECK(watermark >= 0.0 && watermark < 1.0, "watermark=", watermark);
  for (int32_t id = 0; id < static_cast<int32_t>(num_blocks); ++id) {
    push_free(id, /*front=*/false);
  }
}

BlockManagerStats BlockManager::stats() const {
  return BlockManagerStats{.num_blocks = num_blocks(),
                           .num_used_blocks = num_blocks() - num_free_,
                           .num_cached_blocks = static_cast<int64_t>(cached_.size()),
                           .prefix_cache_queries = prefix_cache_queries_,
                           .prefix_cache_hits = prefix_cache_hits_};
}

int32_t BlockManager::find_cached(uint64_t hash, std::span<const int32_t> tokens,
                                  int32_t parent) const {
  const auto it = cached_.find(hash);
  if (it == cached_.end()) {
    return kNone;
  }
  const Block& block = blocks_[static_cast<size_t>(it->second)];
  const bool same_parent = block.parent == parent &&
                           (parent == kNone || block.parent_generation ==
                                                   blocks_[static_cast<size_t>(parent)].generation);
  if (!same_parent ||
      !std::equal(tokens.begin(), tokens.end(), block.tokens.begin(), block.tokens.end())) {
    return kNone;  // a hash collision: treat as a miss
  }
  return it->second;
}

CachedPrefix BlockManager::lookup(std::span<const int32_t> tokens,
                                  int64_t max_cached_tokens) const {
  CachedPrefix prefix;
  if (!enable_prefix_caching_) {
    return prefix;
  }
  prefix.num_queried_tokens = static_cast<int64_t>(tokens.size());
  const int64_t max_blocks =
      std::min<int64_t>(max_cached_tokens, static_cast<int64_t>(tokens.size())) / block_size_;
  uint64_t hash = 0;
  int32_t parent = kNone;
  for (int64_t i = 0; i < max_blocks; ++i) {
    const auto block_tokens =
        tokens.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_));
    hash = hash_(hash, block_tokens);
    const int32_t id = find_cached(hash, block_tokens, parent);
    if (id == kNone) {
      break;
    }
    prefix.blocks.push_back(id);
    parent = id;
  }
  prefix.num_tokens = static_cast<int64_t>(prefix.blocks.size()) * block_size_;
  return prefix;
}

bool BlockManager::allocate(BlockTable& table, int64_t num_tokens, const CachedPrefix* prefix,
                            bool keep_watermark) {
  SWIFTKV_CHECK(prefix == nullptr || table.blocks.empty(),
                "a cached prefix can only start a table; it has ", table.blocks.size(), " blocks");
  const std::span<const int32_t> cached =
      prefix != nullptr ? std::span<const int32_t>(prefix->blocks) : std::span<const int32_t>();
  const int64_t num_have = static_cast<int64_t>(table.blocks.size() + cached.size());
  SWIFTKV_CHECK(prefix == nullptr || prefix->num_tokens <= num_tokens, "cached prefix of ",
                prefix->num_tokens, " tokens for ", num_tokens, " slots");
  const int64_t num_new = std::max<int64_t>(blocks_for(num_tokens) - num_have, 0);
  // Cached blocks nobody uses sit in the free list: taking them consumes free blocks too.
  const auto num_revived =
      static_cast<int64_t>(std::count_if(cached.begin(), cached.end(), [&](int32_t id) {
        return blocks_[static_cast<size_t>(id)].ref_count == 0;
      }));
  const int64_t reserve = keep_watermark ? watermark_blocks_ : 0;
  if (num_new + num_revived + reserve > num_free_) {
    return false;
  }
  if (prefix != nullptr) {
    for (const int32_t id : cached) {
      take_block(id);
      table.blocks.push_back(id);
    }
    table.num_registered = static_cast<int64_t>(cached.size());
    prefix_cache_queries_ += prefix->num_queried_tokens;
    prefix_cache_hits_ += prefix->num_tokens;
  }
  for (int64_t i = 0; i < num_new; ++i) {
    table.blocks.push_back(take_free_block());
  }
  return true;
}

void BlockManager::register_computed(BlockTable& table, std::span<const int32_t> tokens,
                                     int64_t num_computed_tokens) {
  if (!enable_prefix_caching_) {
    return;
  }
  SWIFTKV_CHECK(num_computed_tokens <= static_cast<int64_t>(tokens.size()), "computed ",
                num_computed_tokens, " of ", tokens.size(), " tokens");
  const int64_t num_full = std::min<int64_t>(num_computed_tokens / block_size_,
                                             static_cast<int64_t>(table.blocks.size()));
  for (int64_t i = table.num_registered; i < num_full; ++i) {
    const int32_t id = table.blocks[static_cast<size_t>(i)];
    const int32_t parent = i > 0 ? table.blocks[static_cast<size_t>(i - 1)] : kNone;
    Block& block = blocks_[static_cast<size_t>(id)];
    SWIFTKV_CHECK(!block.registered && block.ref_count == 1, "block ", id,
                  " is already registered or shared (refs ", block.ref_count, ")");
    const auto block_tokens =
        tokens.subspan(static_cast<size_t>(i * block_size_), static_cast<size_t>(block_size_));
    const Block* parent_block = parent == kNone ? nullptr : &blocks_[static_cast<size_t>(parent)];
    block.hash = hash_(parent_block != nullptr ? parent_block->hash : 0, block_tokens);
    block.parent = parent;
    block.parent_generation = parent_block != nullptr ? parent_block->generation : 0;
    // Identical content computed twice (e.g. two equal prompts admitted in the same step):
    // keep the first; the duplicate stays private to its sequence.
    if (cached_.emplace(block.hash, id).second) {
      block.registered = true;
      block.tokens.assign(block_tokens.begin(), block_tokens.end());
    }
  }
  table.num_registered = std::max(table.num_registered, num_full);
}

void BlockManager::free(BlockTable& table) {
  for (auto it = table.blocks.rbegin(); it != table.blocks.rend(); ++it) {
    release_block(*it);
  }
  table.blocks.clear();
  table.num_registered = 0;
}

int32_t BlockManager::take_free_block() {
  SWIFTKV_CHECK(free_head_ != kNone, "no free block (", num_free_, " counted free)");
  const int32_t id = free_head_;
  unlink_free(id);
  Block& block = blocks_[static_cast<size_t>(id)];
  unregister(id);  // evicted from the prefix cache: its KV will be overwritten
  ++block.generation;
  block.hash = 0;
  block.parent = kNone;
  block.parent_generation = 0;
  block.ref_count = 1;
  return id;
}

void BlockManager::take_block(int32_t id) {
  Block& block = blocks_[static_cast<size_t>(id)];
  SWIFTKV_CHECK(block.registered, "cached block ", id, " is not registered");
  if (block.ref_count == 0) {
    unlink_free(id);
  }
  ++block.ref_count;
}

void BlockManager::release_block(int32_t id) {
  Block& block = blocks_[static_cast<size_t>(id)];
  SWIFTKV_CHECK(block.ref_count > 0, "block ", id, " freed twice");
  if (--block.ref_count == 0) {
    // Unregistered blocks hold nothing reusable: hand them out first.
    push_free(id, /*front=*/!block.registered);
  }
}

void BlockManager::unregister(int32_t id) {
  Block& block = blocks_[static_cast<size_t>(id)];
  if (block.registered) {
    const auto it = cached_.find(block.hash);
    SWIFTKV_CHECK(it != cached_.end() && it->second == id, "registered block ", id,
                  " missing from the prefix cache");
    cached_.erase(it);
    block.registered = false;
    block.tokens.clear();
  }
}

void BlockManager::push_free(int32_t id, bool front) {
  Block& block = blocks_[static_cast<size_t>(id)];
  SWIFTKV_CHECK(!block.in_free_list, "block ", id, " is already free");
  block.in_free_list = true;
  if (front) {
    block.prev = kNone;
    block.next = free_head_;
    (free_head_ != kNone ? blocks_[static_cast<size_t>(free_head_)].prev : free_tail_) = id;
    free_head_ = id;
  } else {
    block.next = kNone;
    block.prev = free_tail_;
    (free_tail_ != kNone ? blocks_[static_cast<size_t>(free_tail_)].next : free_head_) = id;
    free_tail_ = id;
  }
  ++num_free_;
}

void BlockManager::unlink_free(int32_t id) {
  Block& block = blocks_[static_cast<size_t>(id)];
  SWIFTKV_CHECK(block.in_free_list, "block ", id, " is not free");
  (block.prev != kNone ? blocks_[static_cast<size_t>(block.prev)].next : free_head_) = block.next;
  (block.next != kNone ? blocks_[static_cast<size_t>(block.next)].prev : free_tail_) = block.prev;
  block.prev = kNone;
  block.next = kNone;
  block.in_free_list = false;
  --num_free_;
}

}  // namespace swiftkv
