// cuBLASLt linear layers against the CPU reference (f64 accumulation) on random bf16 data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <tuple>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/linear.h"
#include "kernels/cuda/gemm.h"

namespace swiftkv {
namespace {

using testing::bf16_ptr;
using testing::random_bf16;
using testing::to_device;
using testing::to_host;

struct GemmCase {
  int64_t num_tokens;
  int64_t out_features;
  int64_t in_features;
  int64_t out_stride;  // 0 = out_features; larger = writing a column slice of a wider output
  cuda::GemmOutType out_type;
  bool accumulate;
};

void run_case(cuda::CublasLt& blas, const GemmCase& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "m=" << c.num_tokens << " n=" << c.out_features
                                    << " k=" << c.in_features << " out_stride=" << c.out_stride
                                    << " f32=" << (c.out_type == cuda::GemmOutType::kF32)
                                    << " accumulate=" << c.accumulate);
  std::mt19937 rng(seed);
  const int64_t m = c.num_tokens;
  const int64_t n = c.out_features;
  const int64_t k = c.in_features;
  const int64_t ldo = c.out_stride == 0 ? n : c.out_stride;
  const std::vector<uint16_t> x = random_bf16(static_cast<size_t>(m * k), rng);
  const std::vector<uint16_t> w = random_bf16(static_cast<size_t>(n * k), rng, 0.05F);
  const bool f32_out = c.out_type == cuda::GemmOutType::kF32;
  // The prior output: random (used when accumulating, must survive outside the slice).
  std::vector<float> prior(static_cast<size_t>(m * ldo));
  std::normal_distribution<float> normal(0.0F, 1.0F);
  for (float& p : prior) {
    p = f32_out ? normal(rng) : bf16_to_f32(f32_to_bf16(normal(rng)));
  }

  Tensor expected = Tensor::empty({m, n}, DType::kF32);
  kernels::cpu::ref::linear(expected, testing::bf16_tensor({m, k}, x).to_f32(),
                            testing::bf16_tensor({n, k}, w));

  cuda::Stream stream;
  const cuda::DeviceBuffer d_x = to_device(x, stream.get());
  const cuda::DeviceBuffer d_w = to_device(w, stream.get());
  std::vector<uint16_t> prior_bf16(prior.size());
  for (size_t i = 0; i < prior.size(); ++i) {
    prior_bf16[i] = f32_to_bf16(prior[i]);
  }
  const cuda::DeviceBuffer d_out =
      f32_out ? to_device(prior, stream.get()) : to_device(prior_bf16, stream.get());
  blas.linear(stream.get(), {.out = d_out.data(),
                             .out_type = c.out_type,
                             .out_stride = c.out_stride,
                             .x = bf16_ptr(d_x),
                             .w = bf16_ptr(d_w),
                             .num_tokens = m,
                             .out_features = n,
                             .in_features = k,
                             .beta = c.accumulate ? 1.0F : 0.0F});
  std::vector<float> actual(prior.size());
  if (f32_out) {
    actual = to_host<float>(d_out, actual.size(), stream.get());
  } else {
    const std::vector<uint16_t> bits = to_host<uint16_t>(d_out, actual.size(), stream.get());
    actual = testing::to_f32(bits);
  }
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t j = 0; j < ldo; ++j) {
      const size_t index = static_cast<size_t>(t * ldo + j);
      if (j >= n) {  // outside the written slice: untouched
        ASSERT_EQ(actual[index], prior[index]) << "t=" << t << " j=" << j;
        continue;
      }
      double magnitude = 0.0;  // sum_k |x w|, the scale of the f32 accumulation error
      for (int64_t i = 0; i < k; ++i) {
        magnitude += std::abs(bf16_to_f32(x[static_cast<size_t>(t * k + i)]) *
                              bf16_to_f32(w[static_cast<size_t>(j * k + i)]));
      }
      const double base = c.accumulate ? prior[index] : 0.0;
      const double reference = base + expected.data<float>()[t * n + j];
      // bf16 products are exact in f32; f32 accumulation over k terms (any order, split-K
      // partials in f32) errs by at most k·2^-24·sum|x w|; the result is rounded once to the
      // output type (bf16: 2^-8 relative; f32: 2^-24). With beta = 1 and a bf16 output cuBLASLt
      // rounds x·wᵀ to bf16 before adding the prior (seen on H200, cuBLAS 13.0: errors up to
      // 1.3 bf16 ulps), so that case allows a second rounding, of |x·wᵀ|.
      const double rounding = f32_out ? 0x1p-24 : 0x1p-8;
      const double product = expected.data<float>()[t * n + j];
      const double tolerance =
          rounding * std::abs(reference) + (c.accumulate ? rounding * std::abs(product) : 0.0) +
          static_cast<double>(k) * 0x1p-24 * (magnitude + std::abs(base)) + 1e-30;
      ASSERT_NEAR(actual[index], reference, tolerance) << "t=" << t << " j=" << j;
    }
  }
}

TEST(CudaGemm, MatchesCpuReference) {
  cuda::CublasLt blas;
  const std::vector<GemmCase> cases = {
      {1, 64, 64, 0, cuda::GemmOutType::kBF16, false},       // decode-shaped
      {37, 200, 96, 0, cuda::GemmOutType::kBF16, false},     // odd m and n
      {5, 24, 40, 0, cuda::GemmOutType::kBF16, false},       // tiny, k not a multiple of 16
      {64, 384, 256, 512, cuda::GemmOutType::kBF16, false},  // a column slice (fused QKV)
      {130, 256, 512, 0, cuda::GemmOutType::kBF16, true},    // out += x·wᵀ (residual)
      {7, 1000, 128, 0, cuda::GemmOutType::kF32, false},     // f32 logits
      {3, 96, 4096, 0, cuda::GemmOutType::kBF16, false},     // long k (split-K territory)
      {300, 512, 1024, 0, cuda::GemmOutType::kBF16, false},
  };
  uint32_t seed = 1;
  for (const GemmCase& c : cases) {
    run_case(blas, c, seed++);
    run_case(blas, c, seed++);  // a second call hits the plan cache
  }
}

// f32 operands and output (the f32 model): true f32, checked tightly enough that TF32 (inputs
// rounded to 10-bit mantissas, ~2^-11 relative per product) would fail by orders of magnitude.
void run_f32_case(cuda::CublasLt& blas, int64_t m, int64_t n, int64_t k, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "f32 m=" << m << " n=" << n << " k=" << k);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  std::vector<float> x(static_cast<size_t>(m * k));
  std::vector<float> w(static_cast<size_t>(n * k));
  for (float& v : x) {
    v = normal(rng);
  }
  for (float& v : w) {
    v = 0.05F * normal(rng);
  }
  Tensor expected = Tensor::empty({m, n}, DType::kF32);
  kernels::cpu::ref::linear(expected, testing::f32_tensor({m, k}, x),
                            testing::f32_tensor({n, k}, w));
  cuda::Stream stream;
  const cuda::DeviceBuffer d_x = to_device(x, stream.get());
  const cuda::DeviceBuffer d_w = to_device(w, stream.get());
  const cuda::DeviceBuffer d_out(static_cast<size_t>(m * n) * sizeof(float));
  blas.linear(stream.get(), {.out = d_out.data(),
                             .out_type = cuda::GemmOutType::kF32,
                             .x = d_x.data(),
                             .w = d_w.data(),
                             .in_type = cuda::GemmInType::kF32,
                             .num_tokens = m,
                             .out_features = n,
                             .in_features = k});
  const std::vector<float> actual = to_host<float>(d_out, static_cast<size_t>(m * n), stream.get());
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t j = 0; j < n; ++j) {
      double magnitude = 0.0;  // sum_k |x w|
      for (int64_t i = 0; i < k; ++i) {
        magnitude += std::abs(static_cast<double>(x[static_cast<size_t>(t * k + i)]) *
                              w[static_cast<size_t>(j * k + i)]);
      }
      // Each f32 product and partial sum rounds once (any order, split-K in f32): at most
      // (k + 1)·2^-24·sum|x w| from the f64 reference, plus the final rounding of the result.
      const double reference = expected.data<float>()[t * n + j];
      const double tolerance =
          0x1p-24 * std::abs(reference) + static_cast<double>(k + 1) * 0x1p-24 * magnitude + 1e-30;
      ASSERT_NEAR(actual[static_cast<size_t>(t * n + j)], reference, tolerance)
          << "t=" << t << " j=" << j;
    }
  }
}

TEST(CudaGemm, F32MatchesCpuReference) {
  cuda::CublasLt blas;
  uint32_t seed = 100;
  // stories260K's projections (hidden 64, MLP 172, vocab 512), odd sizes, a long k.
  for (const auto& [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 128, 64},
                                                                                  {70, 344, 64},
                                                                                  {70, 64, 172},
                                                                                  {1, 512, 64},
                                                                                  {37, 200, 96},
                                                                                  {3, 96, 4096}}) {
    run_f32_case(blas, m, n, k, seed++);
    run_f32_case(blas, m, n, k, seed++);  // a second call hits the plan cache
  }
}

}  // namespace
}  // namespace swiftkv
