// Small-batch linear layers on CUDA (decode at batch <= 8): out = x · wᵀ streaming the weight
// once, where cuBLASLt's GEMV-shaped kernels leave bandwidth unused on mid-sized matrices
// (dev/kernels/NOTES.md: QKV 72%, o_proj 62% of copy bandwidth at batch 1). Measured on the
// H200 at batch 1: QKV 3.07 TB/s (cuBLASLt 3.04), o_proj 2.53 (2.42), gate-up 4.01 (3.84): a
// small gain. (SwiGLU fused into the load of x was tried and dropped: every warp recomputed
// silu for its rows, 1.76 TB/s on down_proj against cuBLASLt's 3.53.)
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

inline constexpr int64_t kGemvMaxTokens = 8;

struct GemvArgs {
  void* out = nullptr;  // [num_tokens, out_features] bf16 or f32, contiguous
  bool out_f32 = false;
  const __nv_bfloat16* x = nullptr;  // [num_tokens, in_features] bf16, row stride x_stride
  int64_t x_stride = 0;
  const __nv_bfloat16* w = nullptr;  // [out_features, in_features], contiguous
  int64_t num_tokens = 0;            // 1 .. kGemvMaxTokens
  int64_t out_features = 0;
  int64_t in_features = 0;
};

// Whether gemv_bf16 takes these arguments: 1 <= num_tokens <= kGemvMaxTokens, in_features and
// x_stride multiples of 8, x and w 16-byte aligned.
bool gemv_supported(const GemvArgs& args);

// Each warp computes 2 output features for every token: lanes stride over in_features in
// 16-byte chunks (weights loaded once, streaming past L1; x re-read from L1/L2), f32
// accumulation, a warp-shuffle reduction; 4 warps per block. Memory-bound: out_features ·
// in_features · 2 bytes of weights.
void gemv_bf16(cudaStream_t stream, const GemvArgs& args);

}  // namespace swiftkv::cuda
