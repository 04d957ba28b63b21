// NcclCommunicator (communicator.h): NCCL collectives on the caller's stream.
#include <nccl.h>

#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/communicator.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_check.h"

namespace swiftkv::cuda {
namespace {

void nccl_check(ncclResult_t result, const char* expression) {
  if (result != ncclSuccess) {
    throw Error(str_cat("NCCL: ", expression, ": ", ncclGetErrorString(result), " (",
                        ncclGetLastError(nullptr), ")"));
  }
}
#define NCCL_CHECK(expression) nccl_check((expression), #expression)

ncclDataType_t nccl_type(const Tensor& t) {
  switch (t.dtype()) {
    case DType::kBF16:
      return ncclBfloat16;
    case DType::kF32:
      return ncclFloat32;
    default:
      throw Error(
          str_cat("NCCL collectives take bf16 or f32 tensors, not ", dtype_name(t.dtype())));
  }
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(int rank, int size, ncclComm_t comm) : Communicator(rank, size), comm_(comm) {}
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }

  bool supports_graphs() const override { return true; }

  void all_reduce_sum(CudaContext& context, const Tensor& t) override {
    NCCL_CHECK(ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), nccl_type(t),
                             ncclSum, comm_, context.stream()));
  }

  void all_gather(CudaContext& context, const Tensor& out, const Tensor& in) override {
    SWIFTKV_CHECK(out.numel() == size() * in.numel() && out.dtype() == in.dtype(),
                  "all_gather: out ", shape_str(out.shape()), " for ", size(), " x ",
                  shape_str(in.shape()));
    NCCL_CHECK(ncclAllGather(in.raw(), out.raw(), static_cast<size_t>(in.numel()), nccl_type(in),
                             comm_, context.stream()));
  }

 private:
  ncclComm_t comm_;
};

}  // namespace

std::vector<CommunicatorPtr> create_nccl_communicators(const std::vector<int>& devices) {
  // NVLink SHARP (multicast) stays off on the lent machines (device notes, KINDS.md).
  setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);
  const auto n = static_cast<int>(devices.size());
  SWIFTKV_CHECK(n >= 1, "NCCL needs at least one device");
  int count = 0;
  CUDA_CHECK(cudaGetDeviceCount(&count));
  for (const int d : devices) {
    if (d < 0 || d >= count) {
      throw Error(str_cat("tensor parallelism over ", n, " GPUs needs device ", d, ", but ", count,
                          " CUDA device(s) are visible"));
    }
  }
  std::vector<ncclComm_t> comms(static_cast<size_t>(n));
  NCCL_CHECK(ncclCommInitAll(comms.data(), n, devices.data()));
  std::vector<CommunicatorPtr> result;
  for (int r = 0; r < n; ++r) {
    result.emplace_back(new NcclCommunicator(r, n, comms[static_cast<size_t>(r)]));
  }
  return result;
}

}  // namespace swiftkv::cuda
