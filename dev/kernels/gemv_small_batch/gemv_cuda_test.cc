// The small-batch GEMV (kernels/cuda/gemv.h) against the CPU reference linear on random bf16
// data, and its speed against cuBLASLt on the Llama-3.1-8B projections at batch 1 (printed, for
// the kernel notes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/linear.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/gemv.h"

namespace swiftkv {
namespace {

using testing::bf16_ptr;
using testing::random_bf16;
using testing::to_device;
using testing::to_host;

struct GemvCase {
  int64_t num_tokens;
  int64_t out_features;
  int64_t in_features;
  int64_t x_stride;  // >= in_features
  bool f32_out;
};

void run_case(const GemvCase& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message()
               << "m=" << c.num_tokens << " n=" << c.out_features << " k=" << c.in_features
               << " x_stride=" << c.x_stride << " f32=" << c.f32_out);
  std::mt19937 rng(seed);
  const int64_t m = c.num_tokens;
  const int64_t n = c.out_features;
  const int64_t k = c.in_features;
  const int64_t x_width = c.x_stride;
  const std::vector<uint16_t> x = random_bf16(static_cast<size_t>(m * x_width), rng);
  const std::vector<uint16_t> w = random_bf16(static_cast<size_t>(n * k), rng, 0.05F);
  // Reference: the first k columns of each x row, f32 linear.
  const Tensor x_all = testing::bf16_tensor({m, x_width}, x).to_f32();
  Tensor x_ref = Tensor::empty({m, k}, DType::kF32);
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t i = 0; i < k; ++i) {
      x_ref.data<float>()[t * k + i] = x_all.data<float>()[t * x_width + i];
    }
  }
  Tensor expected = Tensor::empty({m, n}, DType::kF32);
  kernels::cpu::ref::linear(expected, x_ref, testing::bf16_tensor({n, k}, w));

  cuda::Stream stream;
  const cuda::DeviceBuffer d_x = to_device(x, stream.get());
  const cuda::DeviceBuffer d_w = to_device(w, stream.get());
  cuda::DeviceBuffer d_out(static_cast<size_t>(m * n) * (c.f32_out ? 4 : 2));
  CUDA_CHECK(cudaMemsetAsync(d_out.data(), 0xff, d_out.nbytes(), stream.get()));  // poison
  const cuda::GemvArgs args{.out = d_out.data(),
                            .out_f32 = c.f32_out,
                            .x = bf16_ptr(d_x),
                            .x_stride = x_width,
                            .w = bf16_ptr(d_w),
                            .num_tokens = m,
                            .out_features = n,
                            .in_features = k};
  ASSERT_TRUE(cuda::gemv_supported(args));
  cuda::gemv_bf16(stream.get(), args);
  std::vector<float> out(static_cast<size_t>(m * n));
  if (c.f32_out) {
    out = to_host<float>(d_out, out.size(), stream.get());
  } else {
    const std::vector<uint16_t> bits = to_host<uint16_t>(d_out, out.size(), stream.get());
    for (size_t i = 0; i < bits.size(); ++i) {
      out[i] = bf16_to_f32(bits[i]);
    }
  }
  // f32 accumulation in another order (~k * 2^-24 relative) plus, for a bf16 output, one
  // rounding (2^-9 relative).
  double max_error = 0.0;
  double max_ref = 0.0;
  for (int64_t i = 0; i < m * n; ++i) {
    const double e = expected.data<float>()[i];
    max_error = std::max(max_error, std::isnan(out[static_cast<size_t>(i)])
                                        ? INFINITY
                                        : std::abs(out[static_cast<size_t>(i)] - e));
    max_ref = std::max(max_ref, std::abs(e));
  }
  EXPECT_LT(max_error / max_ref, c.f32_out ? 1e-4 : 1e-2);
}

TEST(CudaGemv, MatchesCpuReference) {
  uint32_t seed = 1;
  for (const GemvCase& c : std::vector<GemvCase>{{1, 4096, 4096, 4096, false},
                                                 {1, 1031, 264, 264, true},
                                                 {3, 777, 1024, 1536, false},
                                                 {8, 513, 2048, 2048, true},
                                                 {1, 4096, 14336, 14336, false},
                                                 {5, 301, 344, 352, false},
                                                 {2, 64, 8, 8, false}}) {
    run_case(c, seed++);
  }
}

// Batch-1 speed on the 8B projections, GEMV vs cuBLASLt (graph-free, events, weights rotated
// over 4 copies so they come from HBM): printed for the notes, not asserted.
TEST(CudaGemv, SpeedAtBatchOneVersusCublasLt) {
  cuda::Stream stream;
  cuda::CublasLt blas;
  struct Shape {
    const char* name;
    int64_t n, k;
  };
  for (const Shape& s :
       {Shape{"qkv", 6144, 4096}, Shape{"o_proj", 4096, 4096}, Shape{"gate_up", 28672, 4096},
        Shape{"down", 4096, 14336}, Shape{"swiftkv_kv", 32768, 4096}}) {
    constexpr int kCopies = 4;
    std::vector<cuda::DeviceBuffer> weights;
    for (int i = 0; i < kCopies; ++i) {
      weights.emplace_back(static_cast<size_t>(s.n * s.k) * 2);
      CUDA_CHECK(
          cudaMemsetAsync(weights.back().data(), 0x3c, weights.back().nbytes(), stream.get()));
    }
    cuda::DeviceBuffer x(static_cast<size_t>(s.k) * 2);
    CUDA_CHECK(cudaMemsetAsync(x.data(), 0x3c, x.nbytes(), stream.get()));
    cuda::DeviceBuffer out(static_cast<size_t>(s.n) * 2);
    const auto time_us = [&](auto&& run) {
      for (int i = 0; i < 3; ++i) {
        run(i % kCopies);
      }
      cudaEvent_t start, stop;
      CUDA_CHECK(cudaEventCreate(&start));
      CUDA_CHECK(cudaEventCreate(&stop));
      constexpr int kIters = 40;
      CUDA_CHECK(cudaEventRecord(start, stream.get()));
      for (int i = 0; i < kIters; ++i) {
        run(i % kCopies);
      }
      CUDA_CHECK(cudaEventRecord(stop, stream.get()));
      CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      cudaEventDestroy(start);
      cudaEventDestroy(stop);
      return 1e3 * ms / kIters;
    };
    const double gemv = time_us([&](int i) {
      cuda::gemv_bf16(stream.get(), {.out = out.data(),
                                     .x = bf16_ptr(x),
                                     .x_stride = s.k,
                                     .w = bf16_ptr(weights[static_cast<size_t>(i)]),
                                     .num_tokens = 1,
                                     .out_features = s.n,
                                     .in_features = s.k});
    });
    const double cublas = time_us([&](int i) {
      blas.linear(stream.get(), {.out = out.data(),
                                 .x = bf16_ptr(x),
                                 .w = bf16_ptr(weights[static_cast<size_t>(i)]),
                                 .num_tokens = 1,
                                 .out_features = s.n,
                                 .in_features = s.k});
    });
    const double bytes = static_cast<double>(s.n * s.k) * 2;
    std::printf("GEMV batch 1 %-12s gemv %7.1f us (%.2f TB/s) | cublasLt %7.1f us (%.2f TB/s)\n",
                s.name, gemv, bytes / gemv / 1e6, cublas, bytes / cublas / 1e6);
  }
}

}  // namespace
}  // namespace swiftkv
