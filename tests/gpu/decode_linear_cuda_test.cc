// CUDA one-token linear layer (decode_linear: bulk-copied weight stream, fused RMSNorm / SwiGLU
// input, residual-add output) against an f64 reference on random data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/error.h"
#include "cuda_test_util.h"
#include "kernels/cuda/decode_linear.h"

namespace swiftkv {
namespace {

using cuda::DecodeLinearInput;
using testing::bf16_ptr;
using testing::Bf16Elem;
using testing::to_device;
using testing::to_host;

float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// input(x) as the kernel computes it: f32 math, each element rounded to bf16. The RMSNorm's
// sum of squares runs in another order on the device, so an element here may sit one bf16
// rounding away from the device's (rare: the tolerance below allows a few).
std::vector<float> transformed_input(DecodeLinearInput input, const std::vector<float>& x,
                                     const std::vector<float>& norm_weight, int64_t k, float eps) {
  std::vector<float> out(static_cast<size_t>(k));
  if (input == DecodeLinearInput::kSiluMul) {
    for (int64_t i = 0; i < k; ++i) {
      const float g = x[static_cast<size_t>(i)];
      out[static_cast<size_t>(i)] =
          round_bf16(g / (1.0F + std::exp(-g)) * x[static_cast<size_t>(k + i)]);
    }
    return out;
  }
  double sum_squares = 0.0;
  for (int64_t i = 0; i < k; ++i) {
    sum_squares += double{x[static_cast<size_t>(i)]} * x[static_cast<size_t>(i)];
  }
  const auto inv_rms = static_cast<float>(1.0 / std::sqrt(sum_squares / k + eps));
  for (int64_t i = 0; i < k; ++i) {
    const float v = x[static_cast<size_t>(i)];
    out[static_cast<size_t>(i)] =
        input == DecodeLinearInput::kRmsNorm
            ? round_bf16(v * inv_rms * norm_weight[static_cast<size_t>(i)])
            : v;
  }
  return out;
}

struct Case {
  int64_t n;
  int64_t k;
  DecodeLinearInput input;
  bool accumulate;
  bool f32_out = false;  // logits: f32 sums, unrounded
};

void run_case(const Case& c) {
  SCOPED_TRACE(::testing::Message() << c.n << " x " << c.k << " input " << static_cast<int>(c.input)
                                    << " accumulate " << c.accumulate << " f32 " << c.f32_out);
  std::mt19937 rng(static_cast<uint32_t>(c.n * 131 + c.k));
  const int64_t x_width = c.input == DecodeLinearInput::kSiluMul ? 2 * c.k : c.k;
  const auto w = testing::random_bf16(static_cast<size_t>(c.n * c.k), rng, 0.02F);
  const auto x = testing::random_bf16(static_cast<size_t>(x_width), rng, 2.0F);
  const auto norm_weight = testing::random_bf16(static_cast<size_t>(c.k), rng, 0.05F, 1.0F);
  const auto out0 = c.accumulate
                        ? testing::random_bf16(static_cast<size_t>(c.n), rng, 1.0F)
                        : std::vector<uint16_t>(static_cast<size_t>(c.n), Bf16Elem::kPoison);
  const float eps = 1e-5F;
  const std::vector<float> xt =
      transformed_input(c.input, testing::to_f32(x), testing::to_f32(norm_weight), c.k, eps);

  cuda::Stream stream;
  const cuda::DeviceBuffer d_w = to_device(w, stream.get());
  const cuda::DeviceBuffer d_x = to_device(x, stream.get());
  const cuda::DeviceBuffer d_norm = to_device(norm_weight, stream.get());
  const cuda::DeviceBuffer d_out = to_device(out0, stream.get());
  const cuda::DeviceBuffer d_out_f32(static_cast<size_t>(c.n) * 4);
  auto* out_f32 = d_out_f32.as<float>();
  const cuda::DecodeLinearArgs args{.out = c.f32_out ? nullptr : bf16_ptr(d_out),
                                    .out_f32 = c.f32_out ? out_f32 : nullptr,
                                    .x = bf16_ptr(d_x),
                                    .w = bf16_ptr(d_w),
                                    .norm_weight = bf16_ptr(d_norm),
                                    .n = c.n,
                                    .k = c.k,
                                    .eps = eps,
                                    .input = c.input,
                                    .accumulate = c.accumulate};
  cuda::decode_linear_bf16(stream.get(), args);
  const auto out = to_host<uint16_t>(d_out, static_cast<size_t>(c.n), stream.get());
  const auto logits = to_host<float>(d_out_f32, static_cast<size_t>(c.n), stream.get());

  for (int64_t r = 0; r < c.n; ++r) {
    double exact = 0.0;
    double magnitude = 0.0;  // sum of |w x|: bounds the f32 summation error
    double largest = 0.0;    // max |w x|: one input element a rounding away moves y by 2^-8 of it
    for (int64_t i = 0; i < c.k; ++i) {
      const double term =
          double{bf16_to_f32(w[static_cast<size_t>(r * c.k + i)])} * xt[static_cast<size_t>(i)];
      exact += term;
      magnitude += std::abs(term);
      largest = std::max(largest, std::abs(term));
    }
    // One bf16 rounding of y (2^-8 relative, with slack; none for f32 output), f32 sums (2^-20
    // of the magnitude), and up to 4 input elements one rounding off (RMSNorm / exp on another
    // device).
    double tolerance =
        (c.f32_out ? 0.0 : 0x1p-8 * std::abs(exact)) + 0x1p-20 * magnitude + 4 * 0x1p-8 * largest;
    double expected = exact;
    if (c.accumulate) {
      expected += bf16_to_f32(out0[static_cast<size_t>(r)]);
      tolerance += 0x1p-8 * std::abs(expected);  // the rounding of the sum
    }
    const float got =
        c.f32_out ? logits[static_cast<size_t>(r)] : bf16_to_f32(out[static_cast<size_t>(r)]);
    ASSERT_NEAR(got, expected, tolerance + 1e-6) << "row " << r;
  }

  // The same call again gives the same bits (partial sums are added in a fixed order).
  if (!c.accumulate) {
    cuda::decode_linear_bf16(stream.get(), args);
    EXPECT_EQ(to_host<uint16_t>(d_out, static_cast<size_t>(c.n), stream.get()), out);
    EXPECT_EQ(to_host<float>(d_out_f32, static_cast<size_t>(c.n), stream.get()), logits);
  }
}

TEST(CudaDecodeLinear, LlamaShapesMatchReference) {
  // Llama-3.1-8B's projections: QKV, o_proj, gate-up, down.
  for (const Case& c : std::vector<Case>{{6144, 4096, DecodeLinearInput::kRmsNorm, false},
                                         {4096, 4096, DecodeLinearInput::kAsIs, true},
                                         {28672, 4096, DecodeLinearInput::kRmsNorm, false},
                                         {4096, 14336, DecodeLinearInput::kSiluMul, true},
                                         // the LM head (part of it): f32 logits
                                         {16000, 4096, DecodeLinearInput::kRmsNorm, false, true}}) {
    run_case(c);
  }
}

// Fewer rows than SMs, rows not a multiple of the grid, short last chunks, the widest k, more
// rows per block than consumer threads when accumulating (small enough for compute-sanitizer).
TEST(CudaDecodeLinear, EdgeShapesMatchReference) {
  for (const Case& c : std::vector<Case>{{1, 1024, DecodeLinearInput::kAsIs, false},
                                         {7, 2048, DecodeLinearInput::kRmsNorm, false},
                                         {133, 3072, DecodeLinearInput::kSiluMul, false},
                                         {300, 16384, DecodeLinearInput::kAsIs, true},
                                         {263, 5120, DecodeLinearInput::kRmsNorm, true},
                                         {45, 1024, DecodeLinearInput::kAsIs, false, true},
                                         {40000, 1024, DecodeLinearInput::kAsIs, true}}) {
    run_case(c);
  }
}

// The SwiGLU epilogue (swiglu: w's rows interleave gate and up, out[j] = SiLU(y_2j) · y_2j+1):
// against the same
// kernel's plain gate-up output (g, u in bf16, as the unfused path rounds them) through the
// SwiGLU in double, within one bf16 rounding of the result and of expf's few ulps.
void run_swiglu_case(int64_t n, int64_t k, DecodeLinearInput input) {
  SCOPED_TRACE(::testing::Message() << "swiglu " << n << " x " << k);
  std::mt19937 rng(static_cast<uint32_t>(n * 7 + k));
  const auto w = testing::random_bf16(static_cast<size_t>(n * k), rng, 0.02F);
  const auto x = testing::random_bf16(static_cast<size_t>(k), rng, 2.0F);
  const auto norm_weight = testing::random_bf16(static_cast<size_t>(k), rng, 0.05F, 1.0F);
  cuda::Stream stream;
  const cuda::DeviceBuffer d_w = to_device(w, stream.get());
  const cuda::DeviceBuffer d_x = to_device(x, stream.get());
  const cuda::DeviceBuffer d_norm = to_device(norm_weight, stream.get());
  const cuda::DeviceBuffer d_gate_up =
      to_device(std::vector<uint16_t>(static_cast<size_t>(n), Bf16Elem::kPoison), stream.get());
  const cuda::DeviceBuffer d_act =
      to_device(std::vector<uint16_t>(static_cast<size_t>(n / 2), Bf16Elem::kPoison), stream.get());
  cuda::DecodeLinearArgs args{.out = bf16_ptr(d_gate_up),
                              .x = bf16_ptr(d_x),
                              .w = bf16_ptr(d_w),
                              .norm_weight = bf16_ptr(d_norm),
                              .n = n,
                              .k = k,
                              .eps = 1e-5F,
                              .input = input};
  cuda::decode_linear_bf16(stream.get(), args);
  args.out = bf16_ptr(d_act);
  args.swiglu = true;
  cuda::decode_linear_bf16(stream.get(), args);
  const auto gate_up = to_host<uint16_t>(d_gate_up, static_cast<size_t>(n), stream.get());
  const auto act = to_host<uint16_t>(d_act, static_cast<size_t>(n / 2), stream.get());
  for (int64_t j = 0; j < n / 2; ++j) {
    const double g = bf16_to_f32(gate_up[static_cast<size_t>(2 * j)]);
    const double u = bf16_to_f32(gate_up[static_cast<size_t>(2 * j + 1)]);
    const double expected = g / (1.0 + std::exp(-g)) * u;
    ASSERT_NEAR(bf16_to_f32(act[static_cast<size_t>(j)]), expected,
                0x1p-8 * std::abs(expected) + 1e-6)
        << "pair " << j;
  }
}

TEST(CudaDecodeLinear, SwigluEpilogueMatchesGateUpThenSwiglu) {
  // Llama-3.1-8B's gate-up; a single pair; pairs not a multiple of the grid; spans whose last
  // chunk is short (3 pairs of 1,024 a block); the widest k.
  run_swiglu_case(28672, 4096, DecodeLinearInput::kRmsNorm);
  run_swiglu_case(2, 1024, DecodeLinearInput::kAsIs);
  run_swiglu_case(2 * 133, 3072, DecodeLinearInput::kRmsNorm);
  run_swiglu_case(2 * 3 * 132, 1024, DecodeLinearInput::kAsIs);
  run_swiglu_case(2 * 45, 16384, DecodeLinearInput::kAsIs);
}

// Back-to-back programmatic launches on one stream: each waits for the one before, so a chain
// y = W1 x, z += W2 y, y = W1 z, ... gives what the same calls give with a sync between them.
TEST(CudaDecodeLinear, ChainedLaunchesSeeTheirInputs) {
  const int64_t k = 2048;
  std::mt19937 rng(3);
  const auto w1 = testing::random_bf16(static_cast<size_t>(k * k), rng, 0.02F);
  const auto w2 = testing::random_bf16(static_cast<size_t>(k * k), rng, 0.02F);
  const auto z0 = testing::random_bf16(static_cast<size_t>(k), rng, 1.0F);
  cuda::Stream stream;
  const cuda::DeviceBuffer d_w1 = to_device(w1, stream.get());
  const cuda::DeviceBuffer d_w2 = to_device(w2, stream.get());
  std::vector<std::vector<uint16_t>> results;
  for (const bool sync : {true, false}) {
    const cuda::DeviceBuffer d_z = to_device(z0, stream.get());
    const cuda::DeviceBuffer d_y(static_cast<size_t>(k) * 2);
    CUDA_CHECK(cudaStreamSynchronize(stream.get()));
    for (int i = 0; i < 8; ++i) {
      cuda::decode_linear_bf16(stream.get(), {.out = bf16_ptr(d_y),
                                              .x = bf16_ptr(d_z),
                                              .w = bf16_ptr(d_w1),
                                              .n = k,
                                              .k = k,
                                              .input = DecodeLinearInput::kAsIs,
                                              .accumulate = false});
      if (sync) {
        CUDA_CHECK(cudaStreamSynchronize(stream.get()));
      }
      cuda::decode_linear_bf16(stream.get(), {.out = bf16_ptr(d_z),
                                              .x = bf16_ptr(d_y),
                                              .w = bf16_ptr(d_w2),
                                              .n = k,
                                              .k = k,
                                              .accumulate = true});
      if (sync) {
        CUDA_CHECK(cudaStreamSynchronize(stream.get()));
      }
    }
    results.push_back(to_host<uint16_t>(d_z, static_cast<size_t>(k), stream.get()));
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_NE(results[0], z0);
}

TEST(CudaDecodeLinear, RejectsWhatItCannotTake) {
  cuda::Stream stream;
  const cuda::DeviceBuffer buffer(size_t{1} << 20);
  const auto call = [&](int64_t n, int64_t k, __nv_bfloat16* out) {
    cuda::decode_linear_bf16(
        stream.get(),
        {.out = out, .x = bf16_ptr(buffer), .w = bf16_ptr(buffer) + 4096, .n = n, .k = k});
  };
  EXPECT_THROW(call(4, 1000, bf16_ptr(buffer) + 100000),
               InternalError);  // k not a multiple of 1024
  EXPECT_THROW(call(4, 32768, bf16_ptr(buffer) + 100000), InternalError);  // k too wide
  EXPECT_THROW(call(0, 1024, bf16_ptr(buffer) + 100000), InternalError);   // no rows
  EXPECT_THROW(call(4, 1024, bf16_ptr(buffer) + 512), InternalError);      // out overlaps x
  EXPECT_THROW(call(4, 1024, nullptr), InternalError);                     // no output
  auto* logits = reinterpret_cast<float*>(bf16_ptr(buffer) + 100000);
  EXPECT_THROW(cuda::decode_linear_bf16(stream.get(), {.out = bf16_ptr(buffer) + 200000,
                                                       .out_f32 = logits,
                                                       .x = bf16_ptr(buffer),
                                                       .w = bf16_ptr(buffer) + 4096,
                                                       .n = 4,
                                                       .k = 1024}),
               InternalError);  // two outputs
  EXPECT_THROW(cuda::decode_linear_bf16(stream.get(), {.out_f32 = logits,
                                                       .x = bf16_ptr(buffer),
                                                       .w = bf16_ptr(buffer) + 4096,
                                                       .n = 4,
                                                       .k = 1024,
                                                       .accumulate = true}),
               InternalError);  // f32 accumulate
  EXPECT_THROW(cuda::decode_linear_bf16(stream.get(), {.out = bf16_ptr(buffer) + 200000,
                                                       .x = bf16_ptr(buffer),
                                                       .w = bf16_ptr(buffer) + 4096,
                                                       .n = 5,
                                                       .k = 1024,
                                                       .swiglu = true}),
               InternalError);  // SwiGLU of an odd number of rows
  EXPECT_FALSE(cuda::decode_linear_supports(4096, 1000));
  EXPECT_TRUE(cuda::decode_linear_supports(4096, 4096));
  EXPECT_TRUE(cuda::decode_linear_supports(128256, 4096));  // Llama 3's LM head
  // A block's share of 400,000 rows x 16 pieces of partial sums is beyond its shared memory.
  EXPECT_FALSE(cuda::decode_linear_supports(400000, 16384));
  EXPECT_THROW(call(400000, 16384, bf16_ptr(buffer) + 100000), InternalError);
}

}  // namespace
}  // namespace swiftkv
