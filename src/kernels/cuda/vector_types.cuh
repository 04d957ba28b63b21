// Small device helpers shared by the elementwise kernels of this folder (internal header).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace swiftkv::cuda {

// kN bf16 values loaded or stored as one access (16 bytes for kN = 8).
template <int kN>
struct alignas(2 * kN) BF16Vec {
  __nv_bfloat16 v[kN];
};

inline bool is_aligned16(const void* pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % 16 == 0;
}

}  // namespace swiftkv::cuda
