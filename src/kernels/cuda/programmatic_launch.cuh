// Programmatic dependent launch (sm_90), internal to this folder. A kernel launched with
// launch_programmatic() may start while the kernel before it on the stream is still running,
// once every block of that kernel has called allow_dependents_to_launch() (or exited). Until it
// calls wait_for_previous_grid() it may read only what no earlier kernel of the step writes
// (weights, constant tables, the step's metadata, which the host uploads by copies before the
// step's first kernel, and KV-cache positions written by earlier steps) and must write nothing;
// after the wait, everything the earlier kernels wrote is complete and visible. Both calls are
// no-ops for a kernel launched normally, and a normal launch after a programmatic one still waits
// for it to finish.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <utility>

#include "kernels/cuda/cuda_check.h"

namespace swiftkv::cuda {

// The most parameter bytes a kernel of the one-token step should take. On the H200 a launch
// whose parameters pass about 140 bytes costs ~0.55 us more, on the critical path of every step
// (decode_linear padded to 164 and 196 bytes: +0.07 ms a step over ~130 launches; 124 and 132:
// no change; dev/kernels/NOTES.md, session 9). Kernels whose host-side arguments are larger take
// a compact kernel-private struct, 32-bit where values fit (fits_in_int32).
inline constexpr size_t kMaxStepKernelParameterBytes = 128;

inline bool fits_in_int32(std::initializer_list<int64_t> values) {
  for (const int64_t value : values) {
    if (value < std::numeric_limits<int32_t>::min() ||
        value > std::numeric_limits<int32_t>::max()) {
      return false;
    }
  }
  return true;
}

__device__ __forceinline__ void wait_for_previous_grid() {
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
}

__device__ __forceinline__ void allow_dependents_to_launch() {
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
}

template <typename... KernelParams, typename... Args>
void launch_programmatic(void (*kernel)(KernelParams...), dim3 grid, dim3 block,
                         size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

}  // namespace swiftkv::cuda
