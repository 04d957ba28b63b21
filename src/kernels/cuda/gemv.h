// Small-batch linear layers on CUDA (decode at batch <= 8): out = x · wᵀ streaming the weight
// once, where cuBLASLt's GEMV-shaped kernels leave bandwidth unused on mid-sized matrices
// (dev/kernels/NOTES.md: QKV 72%, o_proj 62% of copy bandwidth at batch 1). Optionally fuses
// SwiGLU into the load of x (x = silu(gate) * up read from the gate-up projection output), which
// saves the separate silu_mul launch before down_proj.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

inline constexpr int64_t kGemvMaxTokens = 8;

struct GemvArgs {
  void* out = nullptr;  // [num_tokens, out_features] bf16 or f32, contiguous
  bool out_f32 = false;
  // [num_tokens, in_features] bf16 (row stride x_stride); with swiglu, the gate-up output
  // [num_tokens, 2 * in_features] (gate columns first) and x_stride = its row stride.
  const __nv_bfloat16* x = nullptr;
  int64_t x_stride = 0;
  bool swiglu = false;
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
// accumulation, a warp-shuffle reduction; 4 warps per block. SwiGLU values are rounded to bf16
// before the product, as silu_mul's output would be. Memory-bound: out_features · in_features
// · 2 bytes of weights.
void gemv_bf16(cudaStream_t stream, const GemvArgs& args);

}  // namespace swiftkv::cuda
