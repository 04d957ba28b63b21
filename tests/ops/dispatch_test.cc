// Backend dispatch: kCuda needs a CUDA context (ops::CudaDevice), kCpu needs a pool, tensors
// must be where the backend runs.
#include <gtest/gtest.h>

#include "core/error.h"
#include "ops/op_test_util.h"
#include "ops/ops.h"

namespace swiftkv::ops {
namespace {

TEST(Dispatch, CudaBackendNeedsAContext) {
  const Context cuda{Backend::kCuda, nullptr};
  const Tensor x = testing::random_normal({2, 3}, 1);
  EXPECT_THROW(add_inplace(cuda, x, x.clone()), Error);
  EXPECT_THROW(
      linear(cuda, Tensor::empty({2, 4}, DType::kF32), x, testing::random_normal({4, 3}, 2)),
      Error);
}

TEST(Dispatch, CpuBackendNeedsAPool) {
  const Context no_pool{Backend::kCpu, nullptr};
  const Tensor x = testing::random_normal({2, 3}, 1);
  EXPECT_THROW(add_inplace(no_pool, x, x.clone()), InternalError);
}

TEST(Dispatch, RejectsDeviceTensorsOnCpuBackends) {
  float fake = 0.0F;  // never dereferenced: the device check comes first
  const Tensor on_device = Tensor::wrap(&fake, {1}, DType::kF32, Device::kCuda, nullptr);
  EXPECT_THROW(
      add_inplace(testing::reference_context(), on_device, Tensor::zeros({1}, DType::kF32)),
      InternalError);
}

}  // namespace
}  // namespace swiftkv::ops
