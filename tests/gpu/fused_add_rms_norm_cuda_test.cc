// CUDA fused residual-add + RMSNorm against the CPU reference on random data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cuda/fused_add_rms_norm.h"

namespace swiftkv {
namespace {

using testing::bf16_ptr;
using testing::elem_ptr;
using testing::to_device;
using testing::to_host;

template <typename E>
void run_fused_add_rms_norm(int64_t tokens, int64_t hidden) {
  SCOPED_TRACE(hidden);
  using Bits = typename E::Bits;
  std::mt19937 rng(static_cast<uint32_t>(hidden));
  const auto x = testing::random_elems<E>(static_cast<size_t>(tokens * hidden), rng);
  const auto residual = testing::random_elems<E>(static_cast<size_t>(tokens * hidden), rng, 3.0F);
  const auto weight = testing::random_elems<E>(static_cast<size_t>(hidden), rng, 0.1F, 1.0F);
  // The residual stream after the add, rounded to E exactly as the kernel does (f32 sum of the
  // two values, rounded to nearest even; no rounding for f32).
  std::vector<Bits> sum(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    sum[i] = E::from_f32(E::to_f32(x[i]) + E::to_f32(residual[i]));
  }
  const Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
  kernels::cpu::ref::rms_norm(expected, testing::elem_tensor<E>({tokens, hidden}, sum).to_f32(),
                              testing::elem_tensor<E>({hidden}, weight), 1e-5F);

  cuda::Stream stream;
  const cuda::DeviceBuffer d_x = to_device(x, stream.get());
  const cuda::DeviceBuffer d_residual = to_device(residual, stream.get());
  const cuda::DeviceBuffer d_weight = to_device(weight, stream.get());
  const cuda::DeviceBuffer d_out = to_device(std::vector<Bits>(x.size(), E::kPoison), stream.get());
  if constexpr (std::is_same_v<E, testing::F32Elem>) {
    cuda::fused_add_rms_norm_f32(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_residual),
                                 elem_ptr<E>(d_x), elem_ptr<E>(d_weight), tokens, hidden, 1e-5F);
  } else {
    cuda::fused_add_rms_norm_bf16(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_residual),
                                  elem_ptr<E>(d_x), elem_ptr<E>(d_weight), tokens, hidden, 1e-5F);
  }
  const std::vector<Bits> out = to_host<Bits>(d_out, x.size(), stream.get());
  const std::vector<Bits> new_residual = to_host<Bits>(d_residual, x.size(), stream.get());
  // bf16: one rounding of the output (2^-8 relative); the f32 sum of squares and the rsqrt
  // differ from the reference by ~2^-20, far below that. f32: that difference is all there is
  // (sum of squares over <= 4096 terms in another order, ~sqrt(hidden)·2^-24 ≈ 4e-6, halved by
  // the square root, plus a few ulp of rsqrtf and the products): 1e-5 relative.
  const float relative = std::is_same_v<E, testing::F32Elem> ? 1e-5F : E::kRounding;
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(new_residual[i], sum[i]) << i;  // same f32 add, same rounding: bit-exact
    const float e = expected.data<float>()[i];
    ASSERT_NEAR(E::to_f32(out[i]), e, std::abs(e) * relative + 1e-6F) << i;
  }
}

TEST(CudaFusedAddRmsNorm, MatchesCpuReference) {
  // 4096 and 1000 take the 16-byte path, 13 and 1003 the scalar one.
  for (const int64_t hidden : {64, 1000, 4096, 13, 1003}) {
    run_fused_add_rms_norm<testing::Bf16Elem>(37, hidden);
  }
}

TEST(CudaFusedAddRmsNorm, F32MatchesCpuReference) {
  for (const int64_t hidden : {64, 1000, 4096, 13, 1002}) {  // 1002: scalar path in f32
    run_fused_add_rms_norm<testing::F32Elem>(37, hidden);
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
