#include "ops/collectives.h"

#include "core/error.h"
#include "kernels/cuda/backend.h"

namespace swiftkv::ops {
namespace {

std::vector<Communicator> wrap(std::vector<cuda::CommunicatorPtr> group) {
  std::vector<Communicator> result;
  result.reserve(group.size());
  for (cuda::CommunicatorPtr& c : group) {
    result.emplace_back(std::shared_ptr<cuda::Communicator>(std::move(c)));
  }
  return result;
}

cuda::CudaContext& cuda_of(const Context& ctx, std::string_view what) {
  SWIFTKV_CHECK(ctx.backend == Backend::kCuda && ctx.cuda != nullptr, what,
                ": collectives need a kCuda context");
  return *ctx.cuda;
}

}  // namespace

std::vector<Communicator> Communicator::nccl_group(const std::vector<int>& devices) {
  return wrap(cuda::create_nccl_communicators(devices));
}

std::vector<Communicator> Communicator::device_local_group(int size) {
  return wrap(cuda::create_device_local_communicators(size));
}

int Communicator::rank() const { return cuda::communicator_rank(*impl_); }
int Communicator::size() const { return cuda::communicator_size(*impl_); }
bool Communicator::supports_graphs() const { return cuda::communicator_supports_graphs(*impl_); }

void all_reduce_sum(const Context& ctx, const Communicator& comm, const Tensor& t) {
  SWIFTKV_CHECK(t.device() == Device::kCuda, "all_reduce_sum: a device tensor");
  cuda::all_reduce_sum(cuda_of(ctx, "all_reduce_sum"), comm.impl(), t);
}

void all_gather(const Context& ctx, const Communicator& comm, const Tensor& out, const Tensor& in) {
  SWIFTKV_CHECK(out.device() == Device::kCuda && in.device() == Device::kCuda,
                "all_gather: device tensors");
  cuda::all_gather(cuda_of(ctx, "all_gather"), comm.impl(), out, in);
}

}  // namespace swiftkv::ops
