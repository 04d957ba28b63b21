// ops::paged_attention: fast vs reference on mixed prefill/decode batches, hand-computed
// reference cases (one key, known softmax, bottom-right causal mask, GQA mapping), checks.
#include "ops/paged_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "ops/op_test_util.h"

namespace swiftkv::ops {
namespace {

using testing::CpuBackend;

struct SeqLens {
  int32_t q_len;
  int32_t kv_len;
};

struct Batch {
  Tensor q;        // [num_tokens, num_heads, head_dim]
  Tensor k_cache;  // [num_blocks, block_size, num_kv_heads, head_dim]
  Tensor v_cache;
  AttentionMetadata metadata;
};

// Random q and caches; each sequence gets blocks from a shuffled free list, and its block table
// row is padded with -1 (never read).
Batch make_batch(const std::vector<SeqLens>& seqs, int64_t num_heads, int64_t num_kv_heads,
                 int64_t head_dim, int64_t block_size, uint32_t seed) {
  int64_t num_tokens = 0;
  int64_t total_blocks = 2;  // spare blocks that no sequence uses
  int64_t max_blocks = 1;
  for (const SeqLens& s : seqs) {
    num_tokens += s.q_len;
    const int64_t blocks = (s.kv_len + block_size - 1) / block_size;
    total_blocks += blocks;
    max_blocks = std::max(max_blocks, blocks + 1);
  }
  std::vector<int32_t> free_blocks(static_cast<size_t>(total_blocks));
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  std::shuffle(free_blocks.begin(), free_blocks.end(), std::mt19937(seed));
  std::vector<int32_t> starts = {0};
  std::vector<int32_t> kv_lens;
  std::vector<int32_t> tables;
  size_t next_block = 0;
  for (const SeqLens& s : seqs) {
    starts.push_back(starts.back() + s.q_len);
    kv_lens.push_back(s.kv_len);
    const int64_t blocks = (s.kv_len + block_size - 1) / block_size;
    for (int64_t b = 0; b < max_blocks; ++b) {
      tables.push_back(b < blocks ? free_blocks[next_block++] : -1);
    }
  }
  const auto num_seqs = static_cast<int64_t>(seqs.size());
  const Shape cache_shape = {total_blocks, block_size, num_kv_heads, head_dim};
  return Batch{testing::random_normal({num_tokens, num_heads, head_dim}, seed + 1),
               testing::random_normal(cache_shape, seed + 2),
               testing::random_normal(cache_shape, seed + 3),
               {Tensor::from_i32({num_seqs + 1}, starts), Tensor::from_i32({num_seqs}, kv_lens),
                Tensor::from_i32({num_seqs, max_blocks}, tables)}};
}

float max_abs(const Tensor& t) {
  float m = 0.0F;
  for (int64_t i = 0; i < t.numel(); ++i) {
    m = std::max(m, std::abs(t.data<float>()[i]));
  }
  return m;
}

struct AttentionCase {
  std::vector<SeqLens> seqs;
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t head_dim;
  int64_t block_size;
};

TEST(PagedAttention, FastMatchesReference) {
  const std::vector<AttentionCase> cases = {
      // Decode batch, GQA 2:1.
      {{{1, 1}, {1, 17}, {1, 40}}, 4, 2, 64, 16},
      // Full prefill, a prefill chunk and a decode together; MQA; head_dim not a multiple of 16.
      {{{5, 5}, {3, 20}, {1, 33}}, 8, 1, 100, 4},
      // Multi-head (no grouping), tiny head_dim (stories260K-like), one long prefill.
      {{{37, 37}}, 4, 4, 8, 16},
      // Llama-like head_dim with a long cached prefix.
      {{{64, 200}, {1, 7}}, 8, 2, 128, 16},
      // A sequence with no query rows in the batch.
      {{{2, 9}, {0, 5}, {3, 3}}, 6, 3, 16, 8},
  };
  uint32_t seed = 70;
  for (const AttentionCase& c : cases) {
    const Batch b = make_batch(c.seqs, c.num_heads, c.num_kv_heads, c.head_dim, c.block_size, seed);
    seed += 10;
    const float scale = 1.0F / std::sqrt(static_cast<float>(c.head_dim));
    const Tensor expected = Tensor::empty(b.q.shape(), DType::kF32);
    paged_attention(testing::reference_context(), expected, b.q, b.k_cache, b.v_cache, b.metadata,
                    scale);
    // Scores in f32 are off by ~sqrt(head_dim)·u·scale·Σ|q k| (≈ 5e-6 for head_dim 128 with
    // unit-normal data); the output, a convex combination of V rows, moves by at most twice the
    // score error times max|v|, plus the f32 sum over positions (~sqrt(n)·u·max|v|).
    // 2e-5·max|v| covers both with a 2x margin.
    const double tolerance = 2e-5 * max_abs(b.v_cache);
    for (const int threads : testing::thread_counts()) {
      CpuBackend cpu(threads);
      const Tensor out = Tensor::empty(b.q.shape(), DType::kF32);
      paged_attention(cpu.context(), out, b.q, b.k_cache, b.v_cache, b.metadata, scale);
      testing::expect_close(
          out, expected, [&](int64_t) { return tolerance; },
          "attention q " + shape_str(b.q.shape()) + " cache " + shape_str(b.k_cache.shape()) +
              " threads=" + std::to_string(threads));
    }
  }
}

// Runs the reference and the fast kernel (3 threads) and expects both to give `expected`.
void expect_both_backends(const Batch& b, float scale, const Tensor& expected, double tolerance,
                          const std::string& label) {
  const Tensor ref_out = Tensor::empty(b.q.shape(), DType::kF32);
  paged_attention(testing::reference_context(), ref_out, b.q, b.k_cache, b.v_cache, b.metadata,
                  scale);
  testing::expect_close(
      ref_out, expected, [&](int64_t) { return tolerance; }, label + " ref");
  CpuBackend cpu(3);
  const Tensor fast_out = Tensor::empty(b.q.shape(), DType::kF32);
  paged_attention(cpu.context(), fast_out, b.q, b.k_cache, b.v_cache, b.metadata, scale);
  testing::expect_close(
      fast_out, expected, [&](int64_t) { return tolerance; }, label + " fast");
}

TEST(PagedAttention, OneKeyCopiesV) {
  // A single visible key gets probability exactly 1: out = v, bit for bit.
  const Batch b = make_batch({{1, 1}}, 2, 1, 16, 4, 3);
  Tensor expected = Tensor::empty({1, 2, 16}, DType::kF32);
  const int32_t block = b.metadata.block_tables.data<int32_t>()[0];
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t d = 0; d < 16; ++d) {
      expected.data<float>()[h * 16 + d] = b.v_cache.data<float>()[block * 4 * 16 + d];
    }
  }
  expect_both_backends(b, 0.25F, expected, 0.0, "one key");
}

TEST(PagedAttention, KnownSoftmax) {
  // head_dim 1, q = 1, k = [0, ln 3], scale 1: probabilities 1/4 and 3/4, v = [4, 8] -> 7.
  Batch b = make_batch({{1, 2}}, 1, 1, 1, 4, 4);
  b.q.data<float>()[0] = 1.0F;
  const int32_t block = b.metadata.block_tables.data<int32_t>()[0];
  b.k_cache.data<float>()[block * 4 + 0] = 0.0F;
  b.k_cache.data<float>()[block * 4 + 1] = static_cast<float>(std::log(3.0));
  b.v_cache.data<float>()[block * 4 + 0] = 4.0F;
  b.v_cache.data<float>()[block * 4 + 1] = 8.0F;
  // ln 3 rounded to f32 (relative u) shifts the weights by ~u·ln 3: 1e-6 absolute on 7.
  expect_both_backends(b, 1.0F, Tensor::from_f32({1, 1, 1}, {7.0F}), 1e-6, "known softmax");
}

TEST(PagedAttention, CausalMaskIsBottomRightAligned) {
  // q_len 2, kv_len 5: the rows sit at positions 3 and 4. With q = 0 every visible key scores
  // the same, so out = mean of the visible V rows; V row j = j + 1 gives 2.5 and 3.
  Batch b = make_batch({{2, 5}}, 2, 2, 3, 2, 5);
  std::fill_n(b.q.data<float>(), b.q.numel(), 0.0F);
  const int32_t* table = b.metadata.block_tables.data<int32_t>();
  for (int64_t j = 0; j < 5; ++j) {
    const int64_t slot = table[j / 2] * 2 + j % 2;
    for (int64_t i = 0; i < 2 * 3; ++i) {
      b.v_cache.data<float>()[slot * 6 + i] = static_cast<float>(j + 1);
    }
  }
  const Tensor expected =
      Tensor::from_f32({2, 2, 3}, {2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 3, 3, 3, 3, 3, 3});
  expect_both_backends(b, 1.0F, expected, 4 * testing::kF32Roundoff * 3, "causal mask");
}

TEST(PagedAttention, GqaMapsHeadToKvHead) {
  // 4 query heads over 2 kv heads: heads 0, 1 read kv head 0 (v = 10), heads 2, 3 kv head 1
  // (v = 20). One key, so out = v exactly.
  Batch b = make_batch({{1, 1}}, 4, 2, 2, 4, 6);
  const int32_t block = b.metadata.block_tables.data<int32_t>()[0];
  float* v = b.v_cache.data<float>() + block * 4 * 2 * 2;  // slot 0 of the block
  v[0] = v[1] = 10.0F;
  v[2] = v[3] = 20.0F;
  expect_both_backends(b, 1.0F, Tensor::from_f32({1, 4, 2}, {10, 10, 10, 10, 20, 20, 20, 20}), 0.0,
                       "gqa");
}

TEST(PagedAttention, RejectsInconsistentMetadata) {
  CpuBackend cpu(1);
  const Batch good = make_batch({{2, 5}, {1, 3}}, 2, 1, 4, 2, 7);
  const Tensor out = Tensor::empty(good.q.shape(), DType::kF32);
  const auto run = [&](const AttentionMetadata& m) {
    paged_attention(cpu.context(), out, good.q, good.k_cache, good.v_cache, m, 0.5F);
  };
  run(good.metadata);  // sanity: the unmodified batch passes

  AttentionMetadata m = good.metadata;
  m.query_start_loc = Tensor::from_i32({3}, {0, 2, 4});  // last != num_tokens (3)
  EXPECT_THROW(run(m), InternalError);
  m = good.metadata;
  m.query_start_loc = Tensor::from_i32({3}, {0, 4, 3});  // decreasing
  EXPECT_THROW(run(m), InternalError);
  m = good.metadata;
  m.kv_lens = Tensor::from_i32({2}, {1, 3});  // kv_len < q_len
  EXPECT_THROW(run(m), InternalError);
  m = good.metadata;
  m.kv_lens = Tensor::from_i32({2}, {5, 99});  // more tokens than the block table holds
  EXPECT_THROW(run(m), InternalError);
  m = good.metadata;
  m.block_tables = good.metadata.block_tables.clone();
  m.block_tables.data<int32_t>()[0] = static_cast<int32_t>(good.k_cache.dim(0));  // no such block
  EXPECT_THROW(run(m), InternalError);
  m.block_tables.data<int32_t>()[0] = -1;
  EXPECT_THROW(run(m), InternalError);
  // num_heads (3) not a multiple of num_kv_heads (2).
  const Batch odd = make_batch({{1, 1}}, 3, 2, 4, 2, 8);
  EXPECT_THROW(paged_attention(cpu.context(), Tensor::empty(odd.q.shape(), DType::kF32), odd.q,
                               odd.k_cache, odd.v_cache, odd.metadata, 0.5F),
               InternalError);
}

}  // namespace
}  // namespace swiftkv::ops
