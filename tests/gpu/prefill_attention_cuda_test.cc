// The flash-attention prefill kernel against the CPU reference paged attention, over a bf16
// cache and an e4m3 cache (against the reference on the dequantized cache).
#include <gtest/gtest.h>

#include "attention_test_util.h"
#include "kernels/cuda/prefill_attention.h"

namespace swiftkv {
namespace {

TEST(CudaPrefillAttention, MatchesCpuReference) {
  uint32_t seed = 100;
  for (const testing::AttentionCase& c : testing::common_attention_cases()) {
    testing::run_attention_case(c, seed++,
                                [](cudaStream_t stream, const cuda::PagedAttentionArgs& args) {
                                  cuda::prefill_attention_bf16(stream, args);
                                });
  }
}

void prefill_fp8(cudaStream_t stream, const cuda::PagedAttentionArgsFp8& args) {
  cuda::prefill_attention_bf16(stream, args);
}

TEST(CudaPrefillAttention, Fp8CacheMatchesCpuReference) {
  uint32_t seed = 150;
  for (const testing::AttentionCase& c : testing::common_attention_cases()) {
    testing::run_attention_case<testing::Bf16Elem, testing::Fp8Elem>(c, seed++, prefill_fp8);
  }
  testing::run_attention_case<testing::Bf16Elem, testing::Fp8Elem>(
      {8, 2, 128, 16, {{2048, 2048}, {300, 1300}}}, 8, prefill_fp8);
}

TEST(CudaPrefillAttention, Fp8CacheReadsExactly) {
  for (const int64_t head_dim : {64, 128}) {
    testing::check_e4m3_cache_reads_exactly(head_dim, prefill_fp8);
  }
}

TEST(CudaPrefillAttention, LongPromptsManyTiles) {
  // A 2048-token prompt (32 query tiles, reversed launch order) next to a chunk whose cache
  // already holds 1000 earlier positions.
  testing::run_attention_case({8, 2, 128, 16, {{2048, 2048}, {300, 1300}}}, 7,
                              [](cudaStream_t stream, const cuda::PagedAttentionArgs& args) {
                                cuda::prefill_attention_bf16(stream, args);
                              });
}

}  // namespace
}  // namespace swiftkv
