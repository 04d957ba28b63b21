// CUDA RMSNorm against the CPU reference on random data.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/rms_norm.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/cuda/rms_norm.h"

namespace swiftkv {
namespace {

TEST(CudaRmsNorm, MatchesCpuReference) {
  for (const int64_t hidden : {64, 1000, 4096}) {
    const int64_t tokens = 37;
    std::mt19937 rng(static_cast<uint32_t>(hidden));
    std::normal_distribution<float> normal(0.0F, 2.0F);
    Tensor x = Tensor::empty({tokens, hidden}, DType::kBF16);
    Tensor w = Tensor::empty({hidden}, DType::kBF16);
    for (int64_t i = 0; i < x.numel(); ++i) {
      x.data<uint16_t>()[i] = f32_to_bf16(normal(rng));
    }
    for (int64_t i = 0; i < hidden; ++i) {
      w.data<uint16_t>()[i] = f32_to_bf16(1.0F + 0.1F * normal(rng));
    }
    const Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
    kernels::cpu::ref::rms_norm(expected, x.to_f32(), w, 1e-5F);

    cuda::Stream stream;
    cuda::DeviceBuffer d_x(x.nbytes());
    cuda::DeviceBuffer d_w(w.nbytes());
    cuda::DeviceBuffer d_out(x.nbytes());
    d_x.copy_from_host(x.raw(), x.nbytes(), stream.get());
    d_w.copy_from_host(w.raw(), w.nbytes(), stream.get());
    cuda::rms_norm_bf16(stream.get(), d_out.as<__nv_bfloat16>(), d_x.as<__nv_bfloat16>(),
                        d_w.as<__nv_bfloat16>(), tokens, hidden, 1e-5F);
    Tensor out = Tensor::empty({tokens, hidden}, DType::kBF16);
    d_out.copy_to_host(out.raw(), out.nbytes(), stream.get());
    stream.synchronize();
    const Tensor actual = out.to_f32();
    // The output is rounded once to bf16 (8 bits of mantissa): relative error <= 2^-8 per
    // element, plus f32 summation-order noise far below that.
    for (int64_t i = 0; i < actual.numel(); ++i) {
      const float e = expected.data<float>()[i];
      ASSERT_NEAR(actual.data<float>()[i], e, std::abs(e) * 0x1p-8F + 1e-6F) << i;
    }
  }
}

}  // namespace
}  // namespace swiftkv
