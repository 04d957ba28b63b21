// SwiGLU activation on CUDA (bf16 or f32 in/out, the model's dtype; f32 math). Contract:
// ops/silu_mul.h, reading gate and up from the fused gate-up projection output.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// out[t, i] = silu(gate_up[t, i]) * gate_up[t, intermediate_size + i], silu(g) = g / (1 + e^-g).
// out: [num_tokens, intermediate_size]; gate_up: [num_tokens, 2 * intermediate_size] (gate
// columns first, as the fused weight [gate_proj; up_proj] produces them); both bf16 or both f32.
// interleaved: gate_up's columns interleave gate and up instead (2i gate i, 2i + 1 up i), as a
// row-interleaved fused weight produces them.
// Grid-stride over elements, 16-byte vectors when rows allow; memory-bound (3 accesses/output).
void silu_mul_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* gate_up,
                   int64_t num_tokens, int64_t intermediate_size, bool interleaved = false);
void silu_mul_f32(cudaStream_t stream, float* out, const float* gate_up, int64_t num_tokens,
                  int64_t intermediate_size, bool interleaved = false);

}  // namespace swiftkv::cuda
