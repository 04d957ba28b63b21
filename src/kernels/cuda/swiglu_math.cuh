// SwiGLU's per-element math (internal to this folder), shared by the silu_mul kernel and
// decode_linear's fused SwiGLU input and epilogue so all three give the same bits.
#pragma once

namespace swiftkv::cuda {

// SiLU(gate) x up in f32: gate / (1 + e^-gate) x up, with the accurate expf.
__device__ __forceinline__ float silu_times(float gate, float up) {
  return gate / (1.0F + expf(-gate)) * up;
}

}  // namespace swiftkv::cuda
