// The CUDA context behind backend.h (internal to src/kernels/cuda): the stream every op of a
// model step is enqueued on, the cuBLASLt wrapper (one per stream), the decode-attention
// workspace, sized once at start-up so graph captures see fixed pointers, and the pinned host
// memory that step-loop uploads and downloads go through (pinned_ring.h).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "kernels/cuda/backend.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/pinned_ring.h"

namespace swiftkv::cuda {

class CudaContext {
 public:
  // Uploads in flight before the host waits for the oldest one's slot (a step queues ~3).
  static constexpr int kUploadSlots = 8;
  // Downloads that may be pending at once (pipelined steps keep two).
  static constexpr int kDownloadSlots = 4;

  CudaContext();  // on the calling thread's current device
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_.get(); }
  CublasLt& blas() { return blas_; }
  DeviceBuffer& attention_workspace() { return attention_workspace_; }
  PinnedRing& uploads() { return uploads_; }
  PinnedRing& downloads() { return downloads_; }

 private:
  int device_;
  Stream stream_;
  CublasLt blas_;
  DeviceBuffer attention_workspace_;
  PinnedRing uploads_{kUploadSlots};
  PinnedRing downloads_{kDownloadSlots};
};

}  // namespace swiftkv::cuda
