// CUDA SiLU-and-multiply (reading the fused gate-up output) against the CPU reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/silu_mul.h"
#include "kernels/cuda/silu_mul.h"

namespace swiftkv {
namespace {

using testing::bf16_ptr;
using testing::to_device;
using testing::to_host;

TEST(CudaSiluMul, MatchesCpuReference) {
  // (tokens, intermediate): 16-byte path for multiples of 8, scalar path for 13 and 1001.
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {37, 1000}, {5, 13}, {64, 14336}, {1, 1001}, {300, 64}};
  for (const auto& [tokens, intermediate] : shapes) {
    SCOPED_TRACE(::testing::Message() << tokens << "x" << intermediate);
    std::mt19937 rng(static_cast<uint32_t>(tokens * 7919 + intermediate));
    const std::vector<uint16_t> gate_up =
        testing::random_bf16(static_cast<size_t>(tokens * 2 * intermediate), rng, 3.0F);
    std::vector<float> gate(static_cast<size_t>(tokens * intermediate));
    std::vector<float> up(gate.size());
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t i = 0; i < intermediate; ++i) {
        const size_t row = static_cast<size_t>(t * 2 * intermediate);
        gate[static_cast<size_t>(t * intermediate + i)] =
            bf16_to_f32(gate_up[row + static_cast<size_t>(i)]);
        up[static_cast<size_t>(t * intermediate + i)] =
            bf16_to_f32(gate_up[row + static_cast<size_t>(intermediate + i)]);
      }
    }
    const Tensor expected = Tensor::empty({tokens, intermediate}, DType::kF32);
    kernels::cpu::ref::silu_mul(expected, testing::f32_tensor({tokens, intermediate}, gate),
                                testing::f32_tensor({tokens, intermediate}, up));

    cuda::Stream stream;
    const cuda::DeviceBuffer d_gate_up = to_device(gate_up, stream.get());
    const cuda::DeviceBuffer d_out =
        to_device(std::vector<uint16_t>(gate.size(), testing::kPoisonBf16), stream.get());
    cuda::silu_mul_bf16(stream.get(), bf16_ptr(d_out), bf16_ptr(d_gate_up), tokens, intermediate);
    const std::vector<uint16_t> out = to_host<uint16_t>(d_out, gate.size(), stream.get());
    for (size_t i = 0; i < out.size(); ++i) {
      // One rounding to bf16 (2^-8 relative); f32 expf (2 ulp) and the f32 divide and multiply
      // add a few 2^-24, far below it.
      const float e = expected.data<float>()[i];
      ASSERT_NEAR(bf16_to_f32(out[i]), e, std::abs(e) * 0x1p-8F + 1e-7F) << i;
    }
  }
}

}  // namespace
}  // namespace swiftkv
