// CUDA RMSNorm (bf16 and f32) against the CPU reference on random data.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <type_traits>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/rms_norm.h"

namespace swiftkv {
namespace {

using testing::elem_ptr;

template <typename E>
void run_rms_norm(int64_t tokens, int64_t hidden) {
  SCOPED_TRACE(hidden);
  std::mt19937 rng(static_cast<uint32_t>(hidden));
  const auto x = testing::random_elems<E>(static_cast<size_t>(tokens * hidden), rng, 2.0F);
  const auto w = testing::random_elems<E>(static_cast<size_t>(hidden), rng, 0.1F, 1.0F);
  const Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
  kernels::cpu::ref::rms_norm(expected, testing::elem_tensor<E>({tokens, hidden}, x).to_f32(),
                              testing::elem_tensor<E>({hidden}, w), 1e-5F);

  cuda::Stream stream;
  const cuda::DeviceBuffer d_x = testing::to_device(x, stream.get());
  const cuda::DeviceBuffer d_w = testing::to_device(w, stream.get());
  const cuda::DeviceBuffer d_out(x.size() * sizeof(typename E::Bits));
  if constexpr (std::is_same_v<E, testing::F32Elem>) {
    cuda::rms_norm_f32(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_x), elem_ptr<E>(d_w), tokens,
                       hidden, 1e-5F);
  } else {
    cuda::rms_norm_bf16(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_x), elem_ptr<E>(d_w),
                        tokens, hidden, 1e-5F);
  }
  const auto out = testing::to_host<typename E::Bits>(d_out, x.size(), stream.get());
  // bf16: the output is rounded once (2^-8 relative per element) and the rest is far below.
  // f32: the sum of squares over hidden <= 4096 terms in a different order than the reference
  // errs by ~sqrt(hidden)·2^-24 ≈ 4e-6 relative (random walk of the roundings), halved by the
  // square root; rsqrtf and the two products add a few ulp: 1e-5 relative.
  const float relative = std::is_same_v<E, testing::F32Elem> ? 1e-5F : E::kRounding;
  for (size_t i = 0; i < out.size(); ++i) {
    const float e = expected.data<float>()[i];
    ASSERT_NEAR(E::to_f32(out[i]), e, std::abs(e) * relative + 1e-6F) << i;
  }
}

TEST(CudaRmsNorm, MatchesCpuReference) {
  for (const int64_t hidden : {64, 1000, 4096}) {
    run_rms_norm<testing::Bf16Elem>(37, hidden);
  }
}

TEST(CudaRmsNorm, F32MatchesCpuReference) {
  for (const int64_t hidden : {64, 1000, 4096, 13}) {
    run_rms_norm<testing::F32Elem>(37, hidden);
  }
}

}  // namespace
}  // namespace swiftkv
