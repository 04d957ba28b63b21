// Collectives across the ranks of a tensor-parallel model (kCuda only): one Communicator per
// rank, each used by the thread that runs that rank. Every rank must call the same collectives
// in the same order with tensors of the same shape.
#pragma once

#include <memory>
#include <vector>

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::cuda {
class Communicator;
}  // namespace swiftkv::cuda

namespace swiftkv::ops {

class Communicator {
 public:
  // NCCL, rank i on CUDA device devices[i] (the serving path; NCCL_NVLS_ENABLE defaults to 0).
  static std::vector<Communicator> nccl_group(const std::vector<int>& devices);
  // `size` ranks that all run on ONE device, one thread each (NCCL refuses that): checks the
  // tensor-parallel math on a one-GPU machine. Host-synchronous; cannot be captured in graphs.
  static std::vector<Communicator> device_local_group(int size);

  // One rank of a group the functions above made (they are the way to get one).
  explicit Communicator(std::shared_ptr<cuda::Communicator> impl) : impl_(std::move(impl)) {}

  int rank() const;
  int size() const;
  // Whether collectives may be recorded in CUDA graphs (NCCL: yes; device-local: no).
  bool supports_graphs() const;
  cuda::Communicator& impl() const { return *impl_; }

 private:
  std::shared_ptr<cuda::Communicator> impl_;
};

// t (bf16 or f32, device) = the element-wise sum of every rank's t, on ctx's stream.
void all_reduce_sum(const Context& ctx, const Communicator& comm, const Tensor& t);
// out (size x in.numel() elements) = every rank's `in`, in rank order.
void all_gather(const Context& ctx, const Communicator& comm, const Tensor& out, const Tensor& in);

}  // namespace swiftkv::ops
