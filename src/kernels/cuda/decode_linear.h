// The linear layer of a one-token decode step on CUDA (bf16, sm_90), with the small ops around
// it fused in: out (= or +=) input(x) · wᵀ. Contract: ops/decode_linear.h.
//
// At one token a projection is a pure weight stream (2 bytes per multiply-add). Each block
// (one per SM) takes a contiguous range of output rows, i.e. one contiguous span of w, and one
// producer thread copies it in 16 KB chunks into a ring of 7 shared-memory stages with bulk
// async copies (cp.async.bulk + mbarrier), so the bytes in flight cost no registers; eight
// consumer warps take a 1,024-element piece of each chunk, and the pieces' dot products with x
// are summed per row in a fixed order. The kernel is a programmatic launch
// (programmatic_launch.cuh): its producer starts streaming weights (the first 64 KB) as soon as
// its SM is free, while the previous kernels of the step finish, and waits for them only then;
// the consumers wait for them before reading x.
// The input transform (RMSNorm of the residual stream, its weight the producer's first copy, ahead
// of the weight stream that would delay a load of the consumers by microseconds, or
// SiLU(gate) · up) is recomputed by every block into shared memory; the accumulate epilogue adds
// the result into the residual stream, the SwiGLU epilogue (swiglu, on a row-interleaved gate-up
// weight) writes SiLU(gate) · up of each row pair instead. Deterministic: the same call gives the
// same bits.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/decode_linear_input.h"

namespace swiftkv::cuda {

struct DecodeLinearArgs {
  __nv_bfloat16* out = nullptr;  // [n]
  float* out_f32 = nullptr;      // instead of out: the f32 sums, unrounded (logits)
  const __nv_bfloat16* x = nullptr;
  const __nv_bfloat16* w = nullptr;  // [n, k], row-major (the Hugging Face layout)
  const __nv_bfloat16* norm_weight = nullptr;
  int64_t n = 0;
  int64_t k = 0;
  float eps = 0.0F;
  DecodeLinearInput input = DecodeLinearInput::kAsIs;
  // false: out = bf16(result); true: out = bf16(out + bf16(result)), the residual add.
  bool accumulate = false;
  // w's rows interleave gate and up ([n, k], row 2j gate j, row 2j + 1 up j) and out is [n / 2]:
  // out[j] = bf16(SiLU(g) · u) of the results rounded to bf16, g = result[2j], u = result[2j + 1]
  // (the gate-up projection with the SwiGLU of the down projection's input in its epilogue;
  // each block streams one contiguous span of whole pairs); bf16 out, no accumulate.
  bool swiglu = false;
};

// Inner dimensions the kernel takes: multiples of 1,024 up to 16,384.
inline constexpr int64_t kDecodeLinearKMultiple = 1024;
inline constexpr int64_t kDecodeLinearMaxK = 16384;
bool decode_linear_supports(int64_t n, int64_t k);

// Throws Error on a shape or alignment it does not take (w, x, out 16-byte aligned).
void decode_linear_bf16(cudaStream_t stream, const DecodeLinearArgs& args);

}  // namespace swiftkv::cuda
