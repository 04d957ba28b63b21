// The CUDA context behind backend.h (internal to src/kernels/cuda): the stream every op of a
// model step is enqueued on, the cuBLASLt wrapper (one per stream) and the decode-attention
// workspace, sized once at start-up so graph captures see fixed pointers.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "kernels/cuda/backend.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/gemm.h"

namespace swiftkv::cuda {

class CudaContext {
 public:
  CudaContext();  // on the calling thread's current device
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_.get(); }
  CublasLt& blas() { return blas_; }
  DeviceBuffer& attention_workspace() { return attention_workspace_; }

 private:
  int device_;
  Stream stream_;
  CublasLt blas_;
  DeviceBuffer attention_workspace_;
};

}  // namespace swiftkv::cuda
