// Collectives for tensor parallelism (internal to src/kernels/cuda; src/ops reaches them through
// backend.h). Two implementations of one interface:
//   - NcclCommunicator: NCCL (one communicator per GPU of this process, ncclCommInitAll), the
//     one that serves. Collectives are enqueued on the caller's stream and may be captured in
//     CUDA graphs.
//   - DeviceLocalCommunicator: every rank on the SAME device, one host thread per rank, for
//     checking tensor-parallel math on a machine with one GPU (NCCL refuses two ranks on one
//     device). Host-synchronous (each collective waits for the rank's stream and meets the other
//     ranks at a barrier), so it cannot be captured in a graph. Ranks sum in rank order in f32,
//     so every rank gets the same bits.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/cuda/backend.h"

namespace swiftkv::cuda {

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  virtual bool supports_graphs() const = 0;
  // t (bf16 or f32, device) = the element-wise sum of every rank's t.
  virtual void all_reduce_sum(CudaContext& context, const Tensor& t) = 0;
  // out (out.numel() == size * in.numel(), same dtype) = every rank's in, in rank order.
  virtual void all_gather(CudaContext& context, const Tensor& out, const Tensor& in) = 0;

 protected:
  Communicator(int rank, int size) : rank_(rank), size_(size) {}

 private:
  int rank_;
  int size_;
};

}  // namespace swiftkv::cuda
