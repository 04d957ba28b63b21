// DeviceLocalCommunicator (communicator.h): every rank on one device, host-synchronous.
#include <barrier>
#include <memory>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/communicator.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/sum_ranks.h"

namespace swiftkv::cuda {
namespace {

// What the ranks of one group share: the barrier they meet at and each rank's buffer.
struct Shared {
  explicit Shared(int size) : barrier(size), buffers(static_cast<size_t>(size), nullptr) {}
  std::barrier<> barrier;
  std::vector<const void*> buffers;
};

class DeviceLocalCommunicator final : public Communicator {
 public:
  DeviceLocalCommunicator(int rank, int size, std::shared_ptr<Shared> shared)
      : Communicator(rank, size), shared_(std::move(shared)) {}

  bool supports_graphs() const override { return false; }

  void all_reduce_sum(CudaContext& context, const Tensor& t) override {
    SWIFTKV_CHECK(t.dtype() == DType::kBF16 || t.dtype() == DType::kF32,
                  "all_reduce_sum: bf16 or f32, not ", dtype_name(t.dtype()));
    publish(context, t.raw());
    if (scratch_.nbytes() < t.nbytes()) {
      scratch_ = DeviceBuffer(t.nbytes());
    }
    RankInputs inputs{};
    for (int r = 0; r < size(); ++r) {
      inputs.ptr[r] = shared_->buffers[static_cast<size_t>(r)];
    }
    if (t.dtype() == DType::kF32) {
      sum_ranks_f32(context.stream(), scratch_.as<float>(), inputs, size(), t.numel());
    } else {
      sum_ranks_bf16(context.stream(), scratch_.as<__nv_bfloat16>(), inputs, size(), t.numel());
    }
    CUDA_CHECK(cudaStreamSynchronize(context.stream()));
    shared_->barrier.arrive_and_wait();  // every rank has read every input
    CUDA_CHECK(cudaMemcpyAsync(t.raw(), scratch_.data(), t.nbytes(), cudaMemcpyDeviceToDevice,
                               context.stream()));
    CUDA_CHECK(cudaStreamSynchronize(context.stream()));
  }

  void all_gather(CudaContext& context, const Tensor& out, const Tensor& in) override {
    SWIFTKV_CHECK(out.numel() == size() * in.numel() && out.dtype() == in.dtype(),
                  "all_gather: out ", shape_str(out.shape()), " for ", size(), " x ",
                  shape_str(in.shape()));
    publish(context, in.raw());
    for (int r = 0; r < size(); ++r) {
      CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(out.raw()) + r * in.nbytes(),
                                 shared_->buffers[static_cast<size_t>(r)], in.nbytes(),
                                 cudaMemcpyDeviceToDevice, context.stream()));
    }
    CUDA_CHECK(cudaStreamSynchronize(context.stream()));
    shared_->barrier.arrive_and_wait();  // every rank has copied every input
  }

 private:
  // Waits for this rank's producer work, then for every rank to have published its buffer.
  void publish(CudaContext& context, const void* buffer) {
    CUDA_CHECK(cudaStreamSynchronize(context.stream()));
    shared_->buffers[static_cast<size_t>(rank())] = buffer;
    shared_->barrier.arrive_and_wait();
  }

  std::shared_ptr<Shared> shared_;
  DeviceBuffer scratch_;
};

}  // namespace

std::vector<CommunicatorPtr> create_device_local_communicators(int size) {
  SWIFTKV_CHECK(size >= 1 && size <= kMaxLocalRanks, "device-local communicators: ", size,
                " ranks (1 to ", kMaxLocalRanks, ")");
  auto shared = std::make_shared<Shared>(size);
  std::vector<CommunicatorPtr> result;
  for (int r = 0; r < size; ++r) {
    result.emplace_back(new DeviceLocalCommunicator(r, size, shared));
  }
  return result;
}

}  // namespace swiftkv::cuda
