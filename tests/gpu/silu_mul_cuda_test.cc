// CUDA SiLU-and-multiply (reading the fused gate-up output) against the CPU reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/silu_mul.h"
#include "kernels/cuda/silu_mul.h"

namespace swiftkv {
namespace {

using testing::elem_ptr;
using testing::to_device;
using testing::to_host;

template <typename E>
void run_silu_mul(int64_t tokens, int64_t intermediate, bool interleaved = false) {
  SCOPED_TRACE(::testing::Message()
               << tokens << "x" << intermediate << (interleaved ? " interleaved" : ""));
  using Bits = typename E::Bits;
  std::mt19937 rng(static_cast<uint32_t>(tokens * 7919 + intermediate));
  const auto gate_up =
      testing::random_elems<E>(static_cast<size_t>(tokens * 2 * intermediate), rng, 3.0F);
  std::vector<float> gate(static_cast<size_t>(tokens * intermediate));
  std::vector<float> up(gate.size());
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < intermediate; ++i) {
      const size_t row = static_cast<size_t>(t * 2 * intermediate);
      gate[static_cast<size_t>(t * intermediate + i)] =
          E::to_f32(gate_up[row + static_cast<size_t>(interleaved ? 2 * i : i)]);
      up[static_cast<size_t>(t * intermediate + i)] =
          E::to_f32(gate_up[row + static_cast<size_t>(interleaved ? 2 * i + 1 : intermediate + i)]);
    }
  }
  const Tensor expected = Tensor::empty({tokens, intermediate}, DType::kF32);
  kernels::cpu::ref::silu_mul(expected, testing::f32_tensor({tokens, intermediate}, gate),
                              testing::f32_tensor({tokens, intermediate}, up));

  cuda::Stream stream;
  const cuda::DeviceBuffer d_gate_up = to_device(gate_up, stream.get());
  const cuda::DeviceBuffer d_out =
      to_device(std::vector<Bits>(gate.size(), E::kPoison), stream.get());
  if constexpr (std::is_same_v<E, testing::F32Elem>) {
    cuda::silu_mul_f32(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_gate_up), tokens,
                       intermediate, interleaved);
  } else {
    cuda::silu_mul_bf16(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_gate_up), tokens,
                        intermediate, interleaved);
  }
  const std::vector<Bits> out = to_host<Bits>(d_out, gate.size(), stream.get());
  // bf16: one rounding to bf16 (2^-8 relative); f32 expf (2 ulp) and the f32 divide and multiply
  // add a few 2^-24, far below it. f32: those few ulp are the whole difference (the reference
  // computes the same f32 expression with the host's expf): 2^-20 relative.
  const float relative = std::is_same_v<E, testing::F32Elem> ? 0x1p-20F : E::kRounding;
  for (size_t i = 0; i < out.size(); ++i) {
    const float e = expected.data<float>()[i];
    ASSERT_NEAR(E::to_f32(out[i]), e, std::abs(e) * relative + 1e-7F) << i;
  }
}

TEST(CudaSiluMul, MatchesCpuReference) {
  // (tokens, intermediate): 16-byte path for multiples of 8, scalar path for 13 and 1001.
  for (const auto& [tokens, intermediate] : std::vector<std::pair<int64_t, int64_t>>{
           {37, 1000}, {5, 13}, {64, 14336}, {1, 1001}, {300, 64}}) {
    run_silu_mul<testing::Bf16Elem>(tokens, intermediate);
    run_silu_mul<testing::Bf16Elem>(tokens, intermediate, /*interleaved=*/true);
  }
}

TEST(CudaSiluMul, F32MatchesCpuReference) {
  // 16-byte path for multiples of 4, scalar path for 13 and 1001.
  for (const auto& [tokens, intermediate] : std::vector<std::pair<int64_t, int64_t>>{
           {37, 1000}, {5, 13}, {64, 14336}, {1, 1001}, {300, 172}}) {
    run_silu_mul<testing::F32Elem>(tokens, intermediate);
    run_silu_mul<testing::F32Elem>(tokens, intermediate, /*interleaved=*/true);
  }
}

}  // namespace
}  // namespace swiftkv
