// CUDA fused residual-add + RMSNorm against the CPU reference on random data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cuda/fused_add_rms_norm.h"

namespace swiftkv {
namespace {

using testing::bf16_ptr;
using testing::to_device;
using testing::to_host;

TEST(CudaFusedAddRmsNorm, MatchesCpuReference) {
  // 4096 and 1000 take the 16-byte path, 13 and 1003 the scalar one.
  for (const int64_t hidden : {64, 1000, 4096, 13, 1003}) {
    SCOPED_TRACE(hidden);
    const int64_t tokens = 37;
    std::mt19937 rng(static_cast<uint32_t>(hidden));
    const std::vector<uint16_t> x = testing::random_bf16(static_cast<size_t>(tokens * hidden), rng);
    const std::vector<uint16_t> residual =
        testing::random_bf16(static_cast<size_t>(tokens * hidden), rng, 3.0F);
    const std::vector<uint16_t> weight =
        testing::random_bf16(static_cast<size_t>(hidden), rng, 0.1F, 1.0F);

    // The residual stream after the add, rounded to bf16 exactly as the kernel does (f32 sum of
    // the two bf16 values, rounded to nearest even).
    std::vector<uint16_t> sum(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      sum[i] = f32_to_bf16(bf16_to_f32(x[i]) + bf16_to_f32(residual[i]));
    }
    const Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
    kernels::cpu::ref::rms_norm(expected, testing::bf16_tensor({tokens, hidden}, sum).to_f32(),
                                testing::bf16_tensor({hidden}, weight), 1e-5F);

    cuda::Stream stream;
    const cuda::DeviceBuffer d_x = to_device(x, stream.get());
    const cuda::DeviceBuffer d_residual = to_device(residual, stream.get());
    const cuda::DeviceBuffer d_weight = to_device(weight, stream.get());
    const cuda::DeviceBuffer d_out =
        to_device(std::vector<uint16_t>(x.size(), testing::kPoisonBf16), stream.get());
    cuda::fused_add_rms_norm_bf16(stream.get(), bf16_ptr(d_out), bf16_ptr(d_residual),
                                  bf16_ptr(d_x), bf16_ptr(d_weight), tokens, hidden, 1e-5F);
    const std::vector<uint16_t> out = to_host<uint16_t>(d_out, x.size(), stream.get());
    const std::vector<uint16_t> new_residual =
        to_host<uint16_t>(d_residual, x.size(), stream.get());
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(new_residual[i], sum[i]) << i;  // same f32 add, same rounding: bit-exact
      // One rounding of the output to bf16 (2^-8 relative); the f32 sum of squares and the
      // rsqrt differ from the f64 reference by ~2^-20, far below that.
      const float e = expected.data<float>()[i];
      ASSERT_NEAR(bf16_to_f32(out[i]), e, std::abs(e) * 0x1p-8F + 1e-6F) << i;
    }
  }
}

TEST(CudaFusedAddRmsNorm, OutputMayAliasInput) {
  const int64_t tokens = 3;
  const int64_t hidden = 256;
  std::mt19937 rng(7);
  const std::vector<uint16_t> x = testing::random_bf16(static_cast<size_t>(tokens * hidden), rng);
  const std::vector<uint16_t> residual =
      testing::random_bf16(static_cast<size_t>(tokens * hidden), rng);
  const std::vector<uint16_t> weight = testing::random_bf16(static_cast<size_t>(hidden), rng);
  cuda::Stream stream;
  const cuda::DeviceBuffer d_weight = to_device(weight, stream.get());
  const cuda::DeviceBuffer a_x = to_device(x, stream.get());
  const cuda::DeviceBuffer a_residual = to_device(residual, stream.get());
  const cuda::DeviceBuffer b_x = to_device(x, stream.get());
  const cuda::DeviceBuffer b_residual = to_device(residual, stream.get());
  const cuda::DeviceBuffer b_out(x.size() * 2);
  cuda::fused_add_rms_norm_bf16(stream.get(), bf16_ptr(a_x), bf16_ptr(a_residual), bf16_ptr(a_x),
                                bf16_ptr(d_weight), tokens, hidden, 1e-6F);
  cuda::fused_add_rms_norm_bf16(stream.get(), bf16_ptr(b_out), bf16_ptr(b_residual), bf16_ptr(b_x),
                                bf16_ptr(d_weight), tokens, hidden, 1e-6F);
  EXPECT_EQ(to_host<uint16_t>(a_x, x.size(), stream.get()),
            to_host<uint16_t>(b_out, x.size(), stream.get()));
}

}  // namespace
}  // namespace swiftkv
