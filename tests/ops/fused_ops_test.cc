// The fused ops the CUDA forward uses (fused_add_rms_norm, swiglu, rope_write_kv_cache, paged
// attention on a fused QKV output) on the CPU backends: each must equal the unfused ops it
// replaces exactly (the CPU versions run the same kernels on copies of the slices).
#include <gtest/gtest.h>

#include <vector>

#include "ops/op_test_util.h"
#include "ops/ops.h"

namespace swiftkv::ops {
namespace {

using testing::expect_equal;
using testing::random_normal;

std::vector<Context> contexts(testing::CpuBackend& cpu) {
  return {testing::reference_context(), cpu.context()};
}

// Columns [begin, begin + width) of x as a contiguous copy.
Tensor columns(const Tensor& x, int64_t begin, int64_t width) {
  Tensor out = Tensor::empty({x.dim(0), width}, x.dtype());
  for (int64_t r = 0; r < x.dim(0); ++r) {
    for (int64_t c = 0; c < width; ++c) {
      out.data<float>()[r * width + c] = x.data<const float>()[r * x.dim(1) + begin + c];
    }
  }
  return out;
}

TEST(FusedOps, FusedAddRmsNormIsAddThenNorm) {
  testing::CpuBackend cpu(3);
  for (const Context& ctx : contexts(cpu)) {
    const Tensor x = random_normal({5, 24}, 1);
    const Tensor residual = random_normal({5, 24}, 2);
    const Tensor weight = random_normal({24}, 3);
    const Tensor expected_residual = residual.clone();
    add_inplace(ctx, expected_residual, x);
    const Tensor expected = Tensor::empty({5, 24}, DType::kF32);
    rms_norm(ctx, expected, expected_residual, weight, 1e-5F);
    const Tensor out = Tensor::empty({5, 24}, DType::kF32);
    fused_add_rms_norm(ctx, out, residual, x, weight, 1e-5F);
    expect_equal(residual, expected_residual, "residual");
    expect_equal(out, expected, "out");
  }
}

TEST(FusedOps, SwigluIsSiluMulOnTheHalves) {
  testing::CpuBackend cpu(3);
  for (const Context& ctx : contexts(cpu)) {
    const Tensor gate_up = random_normal({4, 2 * 18}, 4);
    const Tensor expected = Tensor::empty({4, 18}, DType::kF32);
    silu_mul(ctx, expected, columns(gate_up, 0, 18), columns(gate_up, 18, 18));
    const Tensor out = Tensor::empty({4, 18}, DType::kF32);
    swiglu(ctx, out, gate_up);
    expect_equal(out, expected, "swiglu");
    // Interleaved columns (gate i at 2i, up i at 2i + 1): the same result from the pairs.
    const Tensor pairs = Tensor::empty({4, 2 * 18}, DType::kF32);
    for (int64_t t = 0; t < 4; ++t) {
      for (int64_t i = 0; i < 18; ++i) {
        pairs.data<float>()[t * 36 + 2 * i] = gate_up.data<float>()[t * 36 + i];
        pairs.data<float>()[t * 36 + 2 * i + 1] = gate_up.data<float>()[t * 36 + 18 + i];
      }
    }
    const Tensor out_pairs = Tensor::empty({4, 18}, DType::kF32);
    swiglu(ctx, out_pairs, pairs, /*interleaved=*/true);
    expect_equal(out_pairs, expected, "swiglu interleaved");
  }
}

// q | k0 v0 | k1 v1: rope on q and each k, (k_i, v_i) written into cache layer i.
TEST(FusedOps, RopeWriteKvCacheIsRopeThenWrite) {
  testing::CpuBackend cpu(3);
  constexpr int64_t kTokens = 6, kHeads = 4, kKvHeads = 2, kDim = 8, kLayers = 2;
  constexpr int64_t kQ = kHeads * kDim, kKv = kKvHeads * kDim;
  const Tensor positions = Tensor::from_i32({kTokens}, {0, 1, 2, 7, 8, 30});
  const Tensor slots = Tensor::from_i32({kTokens}, {3, -1, 5, 0, 9, 12});
  const Tensor inv_freq = Tensor::from_f32({kDim / 2}, {1.0F, 0.1F, 0.01F, 0.001F});
  for (const Context& ctx : contexts(cpu)) {
    const Tensor qkv = random_normal({kTokens, kQ + kLayers * 2 * kKv}, 5);
    const Tensor q = columns(qkv, 0, kQ);
    rope(ctx, q.reshape({kTokens, kHeads, kDim}), positions, inv_freq);
    std::vector<Tensor> k_caches, v_caches, expected_k, expected_v;
    for (int64_t i = 0; i < kLayers; ++i) {
      k_caches.push_back(Tensor::zeros({4, 4, kKvHeads, kDim}, DType::kF32));
      v_caches.push_back(Tensor::zeros({4, 4, kKvHeads, kDim}, DType::kF32));
      expected_k.push_back(k_caches.back().clone());
      expected_v.push_back(v_caches.back().clone());
      const Tensor k = columns(qkv, kQ + i * 2 * kKv, kKv).reshape({kTokens, kKvHeads, kDim});
      const Tensor v = columns(qkv, kQ + i * 2 * kKv + kKv, kKv).reshape({kTokens, kKvHeads, kDim});
      rope(ctx, k, positions, inv_freq);
      write_kv_cache(ctx, expected_k.back(), expected_v.back(), k, v, slots);
    }
    rope_write_kv_cache(ctx, qkv, kHeads, kKvHeads, positions, inv_freq, k_caches, v_caches, slots);
    expect_equal(columns(qkv, 0, kQ), q, "q");
    for (int64_t i = 0; i < kLayers; ++i) {
      expect_equal(k_caches[static_cast<size_t>(i)], expected_k[static_cast<size_t>(i)], "k");
      expect_equal(v_caches[static_cast<size_t>(i)], expected_v[static_cast<size_t>(i)], "v");
    }
    // Q only (SwiftKV's later layers): no kv heads, no caches.
    const Tensor q_only = random_normal({kTokens, kQ}, 6);
    const Tensor expected_q = q_only.clone();
    rope(ctx, expected_q.reshape({kTokens, kHeads, kDim}), positions, inv_freq);
    rope_write_kv_cache(ctx, q_only, kHeads, 0, positions, inv_freq, {}, {}, Tensor());
    expect_equal(q_only, expected_q, "q only");
  }
}

TEST(FusedOps, PagedAttentionReadsQFromAFusedProjection) {
  testing::CpuBackend cpu(3);
  constexpr int64_t kHeads = 4, kKvHeads = 2, kDim = 8;
  AttentionMetadata metadata;
  metadata.query_start_loc = Tensor::from_i32({3}, {0, 3, 4});
  metadata.kv_lens = Tensor::from_i32({2}, {5, 9});
  metadata.block_tables = Tensor::from_i32({2, 3}, {0, 1, -1, 2, 3, 4});
  const Tensor k_cache = random_normal({5, 4, kKvHeads, kDim}, 7);
  const Tensor v_cache = random_normal({5, 4, kKvHeads, kDim}, 8);
  for (const Context& ctx : contexts(cpu)) {
    const Tensor qkv = random_normal({4, kHeads * kDim + 2 * kKvHeads * kDim}, 9);
    const Tensor expected = Tensor::empty({4, kHeads, kDim}, DType::kF32);
    paged_attention(ctx, expected, columns(qkv, 0, kHeads * kDim).reshape({4, kHeads, kDim}),
                    k_cache, v_cache, metadata, 0.3F);
    const Tensor out = Tensor::empty({4, kHeads, kDim}, DType::kF32);
    paged_attention(ctx, out, qkv, k_cache, v_cache, metadata, 0.3F);
    expect_equal(out, expected, "fused q");
  }
}

}  // namespace
}  // namespace swiftkv::ops
