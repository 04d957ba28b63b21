// The split-KV paged decode attention kernel against the CPU reference paged attention, over a
// bf16 cache and an e4m3 cache (against the reference on the dequantized cache).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "attention_test_util.h"
#include "kernels/cuda/decode_attention.h"

namespace swiftkv {
namespace {

// Runs the decode kernel with `num_splits` splits (0 = the library's choice); Args is
// cuda::PagedAttentionArgs (bf16 cache) or cuda::PagedAttentionArgsFp8 (e4m3 cache).
template <typename Args = cuda::PagedAttentionArgs>
auto decode_with(int num_splits) {
  return [num_splits](cudaStream_t stream, const Args& args) {
    const int splits = num_splits > 0
                           ? num_splits
                           : cuda::decode_attention_num_splits(args.num_tokens, args.num_kv_heads);
    const size_t bytes = cuda::decode_attention_workspace_bytes(
        args.num_tokens, args.num_heads, args.num_kv_heads, args.head_dim, splits);
    const cuda::DeviceBuffer workspace(bytes);
    cuda::clear_decode_attention_workspace(stream, workspace.data(), bytes);
    // Twice, the output poisoned in between (0x7fc1 bf16 NaN, as the harness poisons it): the
    // first call must leave the split counters at zero for the second to combine its splits.
    cuda::decode_attention_bf16(stream, args, splits, workspace.data(), bytes);
    const std::vector<uint16_t> poison(
        static_cast<size_t>(args.num_tokens * args.num_heads * args.head_dim),
        testing::kPoisonBf16);
    CUDA_CHECK(cudaMemcpyAsync(args.out, poison.data(), poison.size() * 2, cudaMemcpyHostToDevice,
                               stream));
    cuda::decode_attention_bf16(stream, args, splits, workspace.data(), bytes);
    CUDA_CHECK(cudaStreamSynchronize(stream));  // the workspace dies with this scope
  };
}

TEST(CudaDecodeAttention, MatchesCpuReferenceOnCommonCases) {
  uint32_t seed = 200;
  for (const testing::AttentionCase& c : testing::common_attention_cases()) {
    testing::run_attention_case(c, seed++, decode_with(0));
  }
}

TEST(CudaDecodeAttention, Fp8CacheMatchesCpuReferenceOnCommonCases) {
  uint32_t seed = 250;
  for (const testing::AttentionCase& c : testing::common_attention_cases()) {
    testing::run_attention_case<testing::Bf16Elem, testing::Fp8Elem>(
        c, seed++, decode_with<cuda::PagedAttentionArgsFp8>(0));
  }
  // The e4m3 kernel's two-column-tile variant (groups of 9-16 heads) at head_dim 128 too.
  const testing::AttentionCase group_16 = {16, 1, 128, 16, {{1, 1000}, {2, 70}, {1, 5}}};
  testing::run_attention_case<testing::Bf16Elem, testing::Fp8Elem>(
      group_16, seed++, decode_with<cuda::PagedAttentionArgsFp8>(0));
}

TEST(CudaDecodeAttention, Fp8CacheReadsExactly) {
  for (const int64_t head_dim : {64, 128}) {
    testing::check_e4m3_cache_reads_exactly(head_dim, decode_with<cuda::PagedAttentionArgsFp8>(0));
  }
}

TEST(CudaDecodeAttention, DecodeBatchesAtEverySplitCount) {
  // One query row per sequence, context lengths around the tile (64) and split boundaries,
  // long contexts, and a speculative-decoding verify (q_len 3).
  const testing::AttentionCase batch = {
      32, 8, 128, 16, {{1, 1}, {1, 63}, {1, 64}, {1, 65}, {1, 2048}, {1, 5000}, {3, 900}}, 2};
  const testing::AttentionCase small = {8, 2, 64, 16, {{1, 129}, {1, 3000}, {1, 17}}};
  // Llama-3.1-8B's batch-1 step (the library's choice: 16 splits).
  const testing::AttentionCase one_row = {32, 8, 128, 16, {{1, 2048}}};
  uint32_t seed = 300;
  for (const int splits : {1, 2, 7, 16, 64, 0}) {
    SCOPED_TRACE(splits);
    testing::run_attention_case(batch, seed++, decode_with(splits));
    testing::run_attention_case(small, seed++, decode_with(splits));
    testing::run_attention_case(one_row, seed++, decode_with(splits));
    testing::run_attention_case<testing::Bf16Elem, testing::Fp8Elem>(
        batch, seed++, decode_with<cuda::PagedAttentionArgsFp8>(splits));
  }
}

}  // namespace
}  // namespace swiftkv
