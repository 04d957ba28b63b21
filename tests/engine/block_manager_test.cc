// BlockManager: allocation, reference counts, prefix caching (exact hits even under hash
// collisions), LRU eviction, watermark and counters. No model.
#include "engine/block_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace swiftkv {
namespace {

constexpr int64_t kBlockSize = 4;

std::vector<int32_t> iota_tokens(int32_t n, int32_t start = 0) {
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  std::iota(tokens.begin(), tokens.end(), start);
  return tokens;
}

// Allocates a sequence of `tokens`, "computes" it and registers its full blocks.
BlockTable compute(BlockManager& manager, const std::vector<int32_t>& tokens) {
  BlockTable table;
  const CachedPrefix prefix = manager.lookup(tokens, static_cast<int64_t>(tokens.size()) - 1);
  EXPECT_TRUE(manager.allocate(table, static_cast<int64_t>(tokens.size()), &prefix));
  manager.register_computed(table, tokens, static_cast<int64_t>(tokens.size()));
  return table;
}

TEST(BlockManager, AllocatesGrowsAndFrees) {
  BlockManager manager(8, kBlockSize, /*enable_prefix_caching=*/false, /*watermark=*/0.0);
  EXPECT_EQ(manager.num_free_blocks(), 8);
  BlockTable a;
  ASSERT_TRUE(manager.allocate(a, 5));  // 2 blocks
  EXPECT_EQ(a.blocks.size(), 2U);
  ASSERT_TRUE(manager.allocate(a, 8));  // still 2
  EXPECT_EQ(a.blocks.size(), 2U);
  ASSERT_TRUE(manager.allocate(a, 9));  // 3
  EXPECT_EQ(a.blocks.size(), 3U);
  BlockTable b;
  ASSERT_TRUE(manager.allocate(b, 20));  // 5: the cache is full
  EXPECT_EQ(manager.num_free_blocks(), 0);
  EXPECT_EQ(manager.stats().num_used_blocks, 8);
  std::set<int32_t> distinct(a.blocks.begin(), a.blocks.end());
  distinct.insert(b.blocks.begin(), b.blocks.end());
  EXPECT_EQ(distinct.size(), 8U);

  const std::vector<int32_t> before = a.blocks;
  EXPECT_FALSE(manager.allocate(a, 13));  // no room: nothing changes
  EXPECT_EQ(a.blocks, before);
  manager.free(b);
  EXPECT_TRUE(b.blocks.empty());
  EXPECT_EQ(manager.num_free_blocks(), 5);
  EXPECT_TRUE(manager.allocate(a, 13));
  manager.free(a);
  EXPECT_EQ(manager.num_free_blocks(), 8);
  EXPECT_EQ(manager.stats().num_used_blocks, 0);
}

TEST(BlockManager, WatermarkOnlyWhenAsked) {
  BlockManager manager(10, kBlockSize, false, /*watermark=*/0.2);  // 2 blocks kept
  EXPECT_EQ(manager.watermark_blocks(), 2);
  BlockTable a;
  EXPECT_FALSE(manager.allocate(a, 9 * kBlockSize, nullptr, /*keep_watermark=*/true));
  EXPECT_TRUE(manager.allocate(a, 8 * kBlockSize, nullptr, /*keep_watermark=*/true));
  EXPECT_TRUE(manager.allocate(a, 10 * kBlockSize));  // running sequences may use it all
}

TEST(BlockManager, PrefixHitSharesBlocksAndCounts) {
  BlockManager manager(16, kBlockSize, true, 0.0);
  const std::vector<int32_t> prompt = iota_tokens(10);  // 2 full blocks + 2 tokens
  BlockTable a = compute(manager, prompt);
  EXPECT_EQ(manager.stats().num_cached_blocks, 2);
  EXPECT_EQ(manager.stats().prefix_cache_queries, 10);
  EXPECT_EQ(manager.stats().prefix_cache_hits, 0);

  // Same prompt: both full blocks are shared.
  CachedPrefix prefix = manager.lookup(prompt, 9);
  ASSERT_EQ(prefix.num_tokens, 8);
  EXPECT_EQ(prefix.blocks, std::vector<int32_t>(a.blocks.begin(), a.blocks.begin() + 2));
  BlockTable b;
  ASSERT_TRUE(manager.allocate(b, 10, &prefix));
  EXPECT_EQ(b.blocks[0], a.blocks[0]);
  EXPECT_EQ(b.blocks[1], a.blocks[1]);
  EXPECT_NE(b.blocks[2], a.blocks[2]);
  EXPECT_EQ(b.num_registered, 2);
  EXPECT_EQ(manager.stats().num_used_blocks, 4);
  EXPECT_EQ(manager.stats().prefix_cache_queries, 20);
  EXPECT_EQ(manager.stats().prefix_cache_hits, 8);

  // A prompt of exactly two blocks: the last token must be computed, so only one block hits.
  EXPECT_EQ(manager.lookup(iota_tokens(8), 7).num_tokens, 4);
  // A prompt that diverges in the second block hits only the first.
  std::vector<int32_t> other = prompt;
  other[5] = 99;
  EXPECT_EQ(manager.lookup(other, 9).num_tokens, 4);
  // Blocks are matched from the start only.
  EXPECT_EQ(manager.lookup(iota_tokens(10, 4), 9).num_tokens, 0);

  // Freed cached blocks stay findable until evicted.
  manager.free(a);
  manager.free(b);
  EXPECT_EQ(manager.stats().num_used_blocks, 0);
  EXPECT_EQ(manager.lookup(prompt, 9).num_tokens, 8);
  BlockTable c;
  prefix = manager.lookup(prompt, 9);
  ASSERT_TRUE(manager.allocate(c, 10, &prefix));  // revives the two free cached blocks
  EXPECT_EQ(manager.num_free_blocks(), 13);
}

TEST(BlockManager, EvictsUnregisteredFirstThenLeastRecentlyFreed) {
  BlockManager manager(6, kBlockSize, true, 0.0);
  BlockTable a = compute(manager, iota_tokens(8, 0));    // blocks a0 a1 (registered)
  BlockTable b = compute(manager, iota_tokens(8, 100));  // b0 b1 (registered)
  BlockTable scratch;
  ASSERT_TRUE(manager.allocate(scratch, 8));  // 2 unregistered blocks
  manager.free(a);
  manager.free(b);
  manager.free(scratch);
  // All 6 free. Unregistered first, then a's tail, a's head, b's tail, b's head.
  BlockTable grab;
  ASSERT_TRUE(manager.allocate(grab, 2 * kBlockSize));
  EXPECT_EQ(manager.lookup(iota_tokens(8, 0), 8).num_tokens, 8);
  ASSERT_TRUE(manager.allocate(grab, 3 * kBlockSize));  // evicts a's tail block
  EXPECT_EQ(manager.lookup(iota_tokens(8, 0), 8).num_tokens, 4);
  EXPECT_EQ(manager.lookup(iota_tokens(8, 100), 8).num_tokens, 8);
  ASSERT_TRUE(manager.allocate(grab, 5 * kBlockSize));  // a's head, b's tail
  EXPECT_EQ(manager.lookup(iota_tokens(8, 0), 8).num_tokens, 0);
  EXPECT_EQ(manager.lookup(iota_tokens(8, 100), 8).num_tokens, 4);
  EXPECT_EQ(manager.stats().num_cached_blocks, 1);
}

// Every hash collides: hits must still be exact (same tokens after the same parent block).
TEST(BlockManager, HashCollisionsNeverReturnWrongBlocks) {
  BlockManager manager(16, kBlockSize, true, 0.0,
                       [](uint64_t, std::span<const int32_t>) { return uint64_t{42}; });
  const std::vector<int32_t> first = iota_tokens(9);
  BlockTable a = compute(manager, first);
  EXPECT_EQ(manager.stats().num_cached_blocks, 1);  // the second block collides: not registered
  EXPECT_EQ(manager.lookup(first, 8).num_tokens, 4);
  EXPECT_EQ(manager.lookup(iota_tokens(9, 1), 8).num_tokens, 0);  // different tokens, same hash
  // Same tokens in block 1 but after a different block 0: a miss, never a's block.
  std::vector<int32_t> other = first;
  other[0] = 77;
  EXPECT_EQ(manager.lookup(other, 8).num_tokens, 0);
}

// Random workload with a weak (colliding) hash: every lookup hit must hold exactly the KV of
// the queried prefix, tracked here as the token prefix each block was computed with.
TEST(BlockManager, RandomWorkloadKeepsHitsExactAndCountsConsistent) {
  BlockManager manager(24, kBlockSize, true, 0.05,
                       [](uint64_t parent, std::span<const int32_t> tokens) {
                         return (parent + static_cast<uint64_t>(tokens[0] + tokens[3])) % 7;
                       });
  std::mt19937 rng(7);
  std::map<int32_t, std::vector<int32_t>> content;  // block -> the prefix its KV encodes
  std::vector<std::pair<BlockTable, std::vector<int32_t>>> live;
  for (int iter = 0; iter < 3000; ++iter) {
    if (live.size() < 5 && rng() % 2 == 0) {
      std::vector<int32_t> tokens(static_cast<size_t>(1 + rng() % 20));
      for (int32_t& t : tokens) {
        t = static_cast<int32_t>(rng() % 3);  // tiny alphabet: many shared prefixes
      }
      const auto n = static_cast<int64_t>(tokens.size());
      const CachedPrefix prefix = manager.lookup(tokens, n - 1);
      for (size_t i = 0; i < prefix.blocks.size(); ++i) {
        const std::vector<int32_t> expected(
            tokens.begin(), tokens.begin() + static_cast<int64_t>(i + 1) * kBlockSize);
        ASSERT_EQ(content[prefix.blocks[i]], expected) << "iteration " << iter;
      }
      BlockTable table;
      if (!manager.allocate(table, n, &prefix, /*keep_watermark=*/true)) {
        continue;
      }
      for (size_t i = prefix.blocks.size(); i < table.blocks.size(); ++i) {
        const auto end = std::min<int64_t>(n, static_cast<int64_t>(i + 1) * kBlockSize);
        content[table.blocks[i]].assign(tokens.begin(), tokens.begin() + end);
      }
      manager.register_computed(table, tokens, n);
      live.emplace_back(std::move(table), std::move(tokens));
    } else if (!live.empty()) {
      const size_t victim = rng() % live.size();
      manager.free(live[victim].first);
      live.erase(live.begin() + static_cast<int64_t>(victim));
    }
    std::set<int32_t> used;
    for (const auto& [table, tokens] : live) {
      used.insert(table.blocks.begin(), table.blocks.end());
    }
    ASSERT_EQ(manager.stats().num_used_blocks, static_cast<int64_t>(used.size()));
    ASSERT_EQ(manager.num_free_blocks() + manager.stats().num_used_blocks, 24);
  }
  EXPECT_GT(manager.stats().prefix_cache_hits, 0);
}

TEST(BlockManager, DisabledPrefixCachingNeverHits) {
  BlockManager manager(8, kBlockSize, false, 0.0);
  const std::vector<int32_t> prompt = iota_tokens(9);
  BlockTable a = compute(manager, prompt);
  EXPECT_EQ(manager.lookup(prompt, 8).num_tokens, 0);
  EXPECT_EQ(manager.stats().num_cached_blocks, 0);
  EXPECT_EQ(manager.stats().prefix_cache_queries, 0);
}

}  // namespace
}  // namespace swiftkv
