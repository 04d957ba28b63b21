// The flash-attention prefill kernel against the CPU reference paged attention.
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
