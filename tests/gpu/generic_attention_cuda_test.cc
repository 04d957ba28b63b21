// The generic paged-attention kernel (small head dims such as stories260K's 8, large GQA groups,
// and every shape of the f32 model) against the CPU reference, in bf16 (over a bf16 and an e4m3
// cache) and in f32.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "attention_test_util.h"
#include "kernels/cuda/generic_attention.h"

namespace swiftkv {
namespace {

// head_dim 8 (stories260K: 8 heads over 4 kv heads), 16, 32, 64 and 128; a GQA group of 32 that
// the tensor-core kernels do not take; prefill chunks, decodes, empty queries, padding rows.
std::vector<testing::AttentionCase> generic_cases() {
  return {
      {8, 4, 8, 16, {{70, 70}, {1, 71}, {0, 5}, {3, 200}}, 2},
      {4, 2, 16, 8, {{33, 97}, {1, 1}}},
      {6, 3, 32, 32, {{65, 129}, {2, 300}}, 1},
      {8, 2, 64, 16, {{40, 40}, {1, 600}}},
      {4, 1, 128, 16, {{20, 150}, {1, 129}}},
      {32, 1, 64, 16, {{5, 70}}},
  };
}

TEST(CudaGenericAttention, MatchesCpuReference) {
  uint32_t seed = 300;
  for (const testing::AttentionCase& c : generic_cases()) {
    testing::run_attention_case(c, seed++,
                                [](cudaStream_t stream, const cuda::PagedAttentionArgs& args) {
                                  cuda::generic_attention_bf16(stream, args);
                                });
  }
}

void generic_fp8(cudaStream_t stream, const cuda::PagedAttentionArgsFp8& args) {
  cuda::generic_attention_bf16(stream, args);
}

TEST(CudaGenericAttention, Fp8CacheMatchesCpuReference) {
  uint32_t seed = 350;
  for (const testing::AttentionCase& c : generic_cases()) {
    testing::run_attention_case<testing::Bf16Elem, testing::Fp8Elem>(c, seed++, generic_fp8);
  }
}

TEST(CudaGenericAttention, Fp8CacheReadsExactly) {
  for (const int64_t head_dim : {8, 64, 128}) {
    testing::check_e4m3_cache_reads_exactly(head_dim, generic_fp8);
  }
}

TEST(CudaGenericAttention, F32MatchesCpuReference) {
  uint32_t seed = 400;
  for (const testing::AttentionCase& c : generic_cases()) {
    testing::run_attention_case<testing::F32Elem>(
        c, seed++, [](cudaStream_t stream, const cuda::PagedAttentionArgsT<float>& args) {
          cuda::generic_attention_f32(stream, args);
        });
  }
}

}  // namespace
}  // namespace swiftkv
