// Micro-benchmarks of the CUDA kernels at Llama-3.1-8B shapes (DISABLED_: run explicitly with
// --gtest_also_run_disabled_tests --gtest_filter='CudaBench.*'). Random data (never zeros),
// CUDA-event timing, median of repeated runs after warm-up; prints one line per measurement.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/decode_linear.h"
#include "kernels/cuda/fused_add_rms_norm.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/prefill_attention.h"
#include "kernels/cuda/rope_kv_cache.h"
#include "kernels/cuda/sampling.h"
#include "kernels/cuda/silu_mul.h"

namespace swiftkv {
namespace {

using testing::bf16_ptr;
using testing::to_device;

// Fast random bf16 in about [-2, 2] (xorshift; the statistics do not matter for timing).
std::vector<uint16_t> random_bits(size_t n, uint64_t seed) {
  std::vector<uint16_t> values(n);
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (uint16_t& v : values) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const float u = static_cast<float>(state >> 40) * 0x1p-24F * 4.0F - 2.0F;
    v = f32_to_bf16(u);
  }
  return values;
}

// Median time in milliseconds of `fn` over `repeats` runs after `warmup` runs.
double time_ms(cudaStream_t stream, const std::function<void()>& fn, int warmup = 3,
               int repeats = 20) {
  for (int i = 0; i < warmup; ++i) {
    fn();
  }
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    CUDA_CHECK(cudaEventRecord(start, stream));
    fn();
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0F;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Device time per launch in milliseconds: `launch(i)` for i < launches is captured into one CUDA
// graph, and the median replay time is divided by `launches` (no host launch gaps, as in the
// engine's graph-replayed decode steps).
double time_graph_ms(cudaStream_t stream, int launches, const std::function<void(int)>& launch) {
  launch(0);  // warm-up outside the capture (module load, cuBLASLt plans)
  CUDA_CHECK(cudaStreamSynchronize(stream));
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < launches; ++i) {
    launch(i);
  }
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  const double ms = time_ms(stream, [&] { CUDA_CHECK(cudaGraphLaunch(exec, stream)); });
  CUDA_CHECK(cudaGraphExecDestroy(exec));
  CUDA_CHECK(cudaGraphDestroy(graph));
  return ms / launches;
}

TEST(CudaBench, DISABLED_CopyBandwidth) {
  cuda::Stream stream;
  const size_t bytes = size_t{2} << 30;
  const cuda::DeviceBuffer a = to_device(random_bits(bytes / 2, 1), stream.get());
  const cuda::DeviceBuffer b(bytes);
  const double ms = time_ms(stream.get(), [&] {
    CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, stream.get()));
  });
  std::printf("BENCH copy d2d 2 GiB: %.3f ms, %.0f GB/s (read + write)\n", ms,
              2.0 * static_cast<double>(bytes) / ms * 1e-6);
}

TEST(CudaBench, DISABLED_Gemm) {
  cuda::Stream stream;
  cuda::CublasLt blas;
  struct Shape {
    int64_t m, n, k;
  };
  const std::vector<Shape> shapes = {{8192, 4096, 4096}, {8192, 14336, 4096}, {8192, 4096, 14336},
                                     {8192, 6144, 4096}, {8192, 28672, 4096}, {1, 6144, 4096},
                                     {1, 4096, 4096},    {1, 28672, 4096},    {1, 4096, 14336},
                                     {1, 128256, 4096},  {64, 28672, 4096},   {64, 4096, 14336}};
  const cuda::DeviceBuffer x = to_device(random_bits(size_t{8192} * 14336, 2), stream.get());
  const cuda::DeviceBuffer w = to_device(random_bits(size_t{128256} * 4096, 3), stream.get());
  const cuda::DeviceBuffer out(size_t{8192} * 28672 * 2);
  for (const Shape& s : shapes) {
    const double ms = time_ms(stream.get(), [&] {
      blas.linear(stream.get(), {.out = out.data(),
                                 .x = bf16_ptr(x),
                                 .w = bf16_ptr(w),
                                 .num_tokens = s.m,
                                 .out_features = s.n,
                                 .in_features = s.k});
    });
    const double flops = 2.0 * static_cast<double>(s.m * s.n * s.k);
    const double bytes = 2.0 * static_cast<double>(s.m * s.k + s.n * s.k + s.m * s.n);
    std::printf("BENCH gemm m=%ld n=%ld k=%ld: %.3f ms, %.1f TFLOP/s, %.0f GB/s\n", s.m, s.n, s.k,
                ms, flops / ms * 1e-9, bytes / ms * 1e-6);
  }
  // Decode-shaped GEMMs as a graph replays them, each launch on a different slice of weights
  // (so the weights come from HBM, not L2): the batch-1 decode bandwidth.
  for (const Shape& s : shapes) {
    if (s.m > 64) {
      continue;
    }
    const int64_t slices = std::min<int64_t>(16, int64_t{128256} * 4096 / (s.n * s.k));
    const double ms = time_graph_ms(stream.get(), 16, [&](int i) {
      blas.linear(stream.get(), {.out = out.data(),
                                 .x = bf16_ptr(x),
                                 .w = bf16_ptr(w) + (i % slices) * s.n * s.k,
                                 .num_tokens = s.m,
                                 .out_features = s.n,
                                 .in_features = s.k});
    });
    const double bytes = 2.0 * static_cast<double>(s.m * s.k + s.n * s.k + s.m * s.n);
    std::printf("BENCH gemm (graph) m=%ld n=%ld k=%ld: %.4f ms, %.0f GB/s\n", s.m, s.n, s.k, ms,
                bytes / ms * 1e-6);
  }
  // The same one-token shapes on decode_linear (bulk-copied weight stream, programmatic launches
  // that overlap each other's start and end).
  for (const Shape& s : shapes) {
    if (s.m != 1) {
      continue;
    }
    const int64_t slices = std::min<int64_t>(16, int64_t{128256} * 4096 / (s.n * s.k));
    const double ms = time_graph_ms(stream.get(), 16, [&](int i) {
      cuda::decode_linear_bf16(stream.get(), {.out = bf16_ptr(out),
                                              .x = bf16_ptr(x),
                                              .w = bf16_ptr(w) + (i % slices) * s.n * s.k,
                                              .n = s.n,
                                              .k = s.k});
    });
    const double bytes = 2.0 * static_cast<double>(s.k + s.n * s.k + s.n);
    std::printf("BENCH decode_linear (graph) n=%ld k=%ld: %.4f ms, %.0f GB/s\n", s.n, s.k, ms,
                bytes / ms * 1e-6);
  }
}

// Llama-3.1-8B's MLP at one token on decode_linear, as a graph replays it: gate-up then
// down_proj, either with SwiGLU in down_proj's input (gate | up written) or in gate-up's epilogue
// (swiglu, rows interleaved: the activation written), alone and as pairs, on two alternating
// weight slices (timing only: the weights are left unset).
TEST(CudaBench, DISABLED_DecodeMlp) {
  cuda::Stream stream;
  constexpr int64_t kHidden = 4096;
  constexpr int64_t kInter = 14336;
  const cuda::DeviceBuffer w(size_t{2} * 3 * kInter * kHidden * 2);
  const cuda::DeviceBuffer x = to_device(random_bits(size_t{2} * kInter, 2), stream.get());
  const cuda::DeviceBuffer norm = to_device(random_bits(kHidden, 4), stream.get());
  const cuda::DeviceBuffer gate_up(size_t{2} * kInter * 2);
  const cuda::DeviceBuffer act(size_t{kInter} * 2);
  const cuda::DeviceBuffer residual = to_device(random_bits(kHidden, 5), stream.get());
  const auto slice = [&](int i) { return bf16_ptr(w) + (i % 2) * 3 * kInter * kHidden; };
  const auto gate_up_call = [&](int i, bool swiglu) {
    cuda::decode_linear_bf16(stream.get(), {.out = bf16_ptr(swiglu ? act : gate_up),
                                            .x = bf16_ptr(residual),
                                            .w = slice(i),
                                            .norm_weight = bf16_ptr(norm),
                                            .n = 2 * kInter,
                                            .k = kHidden,
                                            .eps = 1e-5F,
                                            .input = cuda::DecodeLinearInput::kRmsNorm,
                                            .swiglu = swiglu});
  };
  const auto down_call = [&](int i, bool swiglu) {
    cuda::decode_linear_bf16(stream.get(), {.out = bf16_ptr(residual),
                                            .x = bf16_ptr(swiglu ? act : gate_up),
                                            .w = slice(i) + 2 * kInter * kHidden,
                                            .n = kHidden,
                                            .k = kInter,
                                            .input = swiglu ? cuda::DecodeLinearInput::kAsIs
                                                            : cuda::DecodeLinearInput::kSiluMul,
                                            .accumulate = true});
  };
  for (int round = 0; round < 2; ++round) {
    for (const bool swiglu : {false, true}) {
      const double gu = time_graph_ms(stream.get(), 16, [&](int i) { gate_up_call(i, swiglu); });
      const double down = time_graph_ms(stream.get(), 16, [&](int i) { down_call(i, swiglu); });
      const double pair = time_graph_ms(stream.get(), 16, [&](int i) {
        gate_up_call(i, swiglu);
        down_call(i, swiglu);
      });
      std::printf("BENCH decode mlp %s: gate-up %.2f us, down %.2f us, pair %.2f us\n",
                  swiglu ? "swiglu-epilogue" : "silu-in-down", gu * 1e3, down * 1e3, pair * 1e3);
    }
  }
}

// The first 8 heuristic candidates of cuBLASLt for one shape, each timed: shows whether the
// wrapper's choice (the first) leaves speed on the table.
TEST(CudaBench, DISABLED_GemmAlgorithms) {
  cuda::Stream stream;
  cuda::CublasLt blas;
  const cuda::DeviceBuffer x = to_device(random_bits(size_t{8192} * 14336, 2), stream.get());
  const cuda::DeviceBuffer w = to_device(random_bits(size_t{14336} * 4096, 3), stream.get());
  const cuda::DeviceBuffer out(size_t{8192} * 14336 * 2);
  const cuda::DeviceBuffer workspace(cuda::CublasLt::kDefaultWorkspaceBytes);
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape s :
       {Shape{8192, 4096, 4096}, Shape{8192, 14336, 4096}, Shape{8192, 4096, 14336}}) {
    cublasLtMatmulDesc_t desc = nullptr;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t transpose = CUBLAS_OP_T;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                                sizeof(transpose)));
    cublasLtMatrixLayout_t w_layout = nullptr;
    cublasLtMatrixLayout_t x_layout = nullptr;
    cublasLtMatrixLayout_t out_layout = nullptr;
    const auto m = static_cast<uint64_t>(s.m);
    const auto n = static_cast<uint64_t>(s.n);
    const auto k = static_cast<uint64_t>(s.k);
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&w_layout, CUDA_R_16BF, k, n, s.k));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&x_layout, CUDA_R_16BF, k, m, s.k));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&out_layout, CUDA_R_16BF, n, m, s.n));
    cublasLtMatmulPreference_t preference = nullptr;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
    const uint64_t workspace_bytes = workspace.nbytes();
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference,
                                                      CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                      &workspace_bytes, sizeof(workspace_bytes)));
    std::vector<cublasLtMatmulHeuristicResult_t> results(8);
    int num_results = 0;
    CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(blas.handle(), desc, w_layout, x_layout, out_layout,
                                                out_layout, preference, 8, results.data(),
                                                &num_results));
    for (int i = 0; i < num_results; ++i) {
      const float alpha = 1.0F;
      const float beta = 0.0F;
      const double ms = time_ms(stream.get(), [&] {
        CUBLAS_CHECK(cublasLtMatmul(blas.handle(), desc, &alpha, w.data(), w_layout, x.data(),
                                    x_layout, &beta, out.data(), out_layout, out.data(), out_layout,
                                    &results[static_cast<size_t>(i)].algo, workspace.data(),
                                    workspace.nbytes(), stream.get()));
      });
      std::printf("BENCH gemm-algo m=%ld n=%ld k=%ld candidate %d: %.1f TFLOP/s\n", s.m, s.n, s.k,
                  i, 2.0 * static_cast<double>(s.m * s.n * s.k) / ms * 1e-9);
    }
    cublasLtMatmulPreferenceDestroy(preference);
    cublasLtMatrixLayoutDestroy(out_layout);
    cublasLtMatrixLayoutDestroy(x_layout);
    cublasLtMatrixLayoutDestroy(w_layout);
    cublasLtMatmulDescDestroy(desc);
  }
}

// A paged cache holding `num_seqs` sequences of `kv_len` positions in shuffled blocks.
struct PagedProblem {
  cuda::DeviceBuffer k_cache;
  cuda::DeviceBuffer v_cache;
  cuda::DeviceBuffer block_tables;
  cuda::DeviceBuffer query_start_loc;
  cuda::DeviceBuffer kv_lens;
  int64_t max_blocks;
};

PagedProblem make_paged(cudaStream_t stream, int64_t num_seqs, int64_t q_len, int64_t kv_len,
                        int64_t num_kv_heads, int64_t head_dim, int64_t block_size) {
  const int64_t blocks_per_seq = (kv_len + block_size - 1) / block_size;
  const int64_t num_blocks = num_seqs * blocks_per_seq;
  std::vector<int32_t> physical(static_cast<size_t>(num_blocks));
  std::iota(physical.begin(), physical.end(), 0);
  std::mt19937 rng(9);
  std::shuffle(physical.begin(), physical.end(), rng);
  std::vector<int32_t> starts = {0};
  for (int64_t s = 0; s < num_seqs; ++s) {
    starts.push_back(static_cast<int32_t>(starts.back() + q_len));
  }
  const size_t cache_elements =
      static_cast<size_t>(num_blocks * block_size * num_kv_heads * head_dim);
  return {
      to_device(random_bits(cache_elements, 4), stream),
      to_device(random_bits(cache_elements, 5), stream),
      to_device(physical, stream),
      to_device(starts, stream),
      to_device(std::vector<int32_t>(static_cast<size_t>(num_seqs), static_cast<int32_t>(kv_len)),
                stream),
      blocks_per_seq};
}

TEST(CudaBench, DISABLED_PrefillAttention) {
  cuda::Stream stream;
  struct Setting {
    int64_t seqs, n, head_dim;
  };
  for (const Setting s : {Setting{4, 2048, 128}, Setting{1, 8192, 128}, Setting{4, 2048, 64}}) {
    const int64_t heads = 32;
    const int64_t kv_heads = 8;
    const PagedProblem p = make_paged(stream.get(), s.seqs, s.n, s.n, kv_heads, s.head_dim, 16);
    const cuda::DeviceBuffer q = to_device(
        random_bits(static_cast<size_t>(s.seqs * s.n * heads * s.head_dim), 6), stream.get());
    const cuda::DeviceBuffer out(static_cast<size_t>(s.seqs * s.n * heads * s.head_dim) * 2);
    const cuda::PagedAttentionArgs args = {.out = bf16_ptr(out),
                                           .q = bf16_ptr(q),
                                           .k_cache = bf16_ptr(p.k_cache),
                                           .v_cache = bf16_ptr(p.v_cache),
                                           .query_start_loc = p.query_start_loc.as<int32_t>(),
                                           .kv_lens = p.kv_lens.as<int32_t>(),
                                           .block_tables = p.block_tables.as<int32_t>(),
                                           .num_seqs = s.seqs,
                                           .num_tokens = s.seqs * s.n,
                                           .num_heads = heads,
                                           .num_kv_heads = kv_heads,
                                           .head_dim = s.head_dim,
                                           .block_size = 16,
                                           .max_blocks_per_seq = p.max_blocks,
                                           .scale = 0.088F};
    const double ms =
        time_ms(stream.get(), [&] { cuda::prefill_attention_bf16(stream.get(), args); });
    // Causal: 4·n²·d/2 flops per head and sequence.
    const double flops = static_cast<double>(s.seqs * heads) * 4.0 *
                         static_cast<double>(s.n * s.n) * static_cast<double>(s.head_dim) / 2.0;
    std::printf(
        "BENCH prefill attention %ldx%ld causal, 32/8 heads, d=%ld: %.3f ms, %.1f TFLOP/s\n",
        s.seqs, s.n, s.head_dim, ms, flops / ms * 1e-9);
  }
}

TEST(CudaBench, DISABLED_DecodeAttention) {
  cuda::Stream stream;
  struct Setting {
    int64_t batch, context;
  };
  for (const Setting s :
       {Setting{64, 2048}, Setting{1, 2048}, Setting{1, 32768}, Setting{256, 1024}}) {
    const int64_t heads = 32;
    const int64_t kv_heads = 8;
    const int64_t head_dim = 128;
    // `copies` independent problems (copies · batch sequences) that the graph replay rotates
    // through, so that small problems are not served from L2.
    const int64_t copies = std::max<int64_t>(1, std::min<int64_t>(16, 2048 / s.batch));
    const PagedProblem p =
        make_paged(stream.get(), s.batch * copies, 1, s.context, kv_heads, head_dim, 16);
    const cuda::DeviceBuffer q = to_device(
        random_bits(static_cast<size_t>(copies * s.batch * heads * head_dim), 7), stream.get());
    const cuda::DeviceBuffer out(static_cast<size_t>(copies * s.batch * heads * head_dim) * 2);
    const int splits = cuda::decode_attention_num_splits(s.batch, kv_heads);
    const size_t workspace_bytes =
        cuda::decode_attention_workspace_bytes(s.batch, heads, kv_heads, head_dim, splits);
    const cuda::DeviceBuffer workspace(workspace_bytes);
    cuda::clear_decode_attention_workspace(stream.get(), workspace.data(), workspace_bytes);
    const cuda::PagedAttentionArgs args = {.out = bf16_ptr(out),
                                           .q = bf16_ptr(q),
                                           .k_cache = bf16_ptr(p.k_cache),
                                           .v_cache = bf16_ptr(p.v_cache),
                                           .query_start_loc = p.query_start_loc.as<int32_t>(),
                                           .kv_lens = p.kv_lens.as<int32_t>(),
                                           .block_tables = p.block_tables.as<int32_t>(),
                                           .num_seqs = s.batch,
                                           .num_tokens = s.batch,
                                           .num_heads = heads,
                                           .num_kv_heads = kv_heads,
                                           .head_dim = head_dim,
                                           .block_size = 16,
                                           .max_blocks_per_seq = p.max_blocks,
                                           .scale = 0.088F};
    const double ms = time_ms(stream.get(), [&] {
      cuda::decode_attention_bf16(stream.get(), args, splits, workspace.data(), workspace_bytes);
    });
    const double bytes = static_cast<double>(s.batch * s.context * kv_heads * head_dim) * 2 * 2;
    std::printf(
        "BENCH decode attention batch %ld x %ld context (splits %d): %.4f ms, %.0f GB/s "
        "of KV\n",
        s.batch, s.context, splits, ms, bytes / ms * 1e-6);
    const double graph_ms = time_graph_ms(stream.get(), static_cast<int>(copies), [&](int i) {
      cuda::PagedAttentionArgs shifted = args;
      shifted.q = args.q + i * s.batch * heads * head_dim;
      shifted.out = args.out + i * s.batch * heads * head_dim;
      shifted.kv_lens = args.kv_lens + i * s.batch;
      shifted.block_tables = args.block_tables + i * s.batch * p.max_blocks;
      cuda::decode_attention_bf16(stream.get(), shifted, splits, workspace.data(), workspace_bytes);
    });
    std::printf("BENCH decode attention (graph) batch %ld x %ld context: %.4f ms, %.0f GB/s\n",
                s.batch, s.context, graph_ms, bytes / graph_ms * 1e-6);
  }
}

TEST(CudaBench, DISABLED_Elementwise) {
  cuda::Stream stream;
  const int64_t tokens = 8192;
  const int64_t hidden = 4096;
  const int64_t intermediate = 14336;
  const cuda::DeviceBuffer x =
      to_device(random_bits(static_cast<size_t>(tokens * hidden), 8), stream.get());
  const cuda::DeviceBuffer residual =
      to_device(random_bits(static_cast<size_t>(tokens * hidden), 9), stream.get());
  const cuda::DeviceBuffer weight =
      to_device(random_bits(static_cast<size_t>(hidden), 10), stream.get());
  const cuda::DeviceBuffer out(static_cast<size_t>(tokens * hidden) * 2);
  double ms = time_ms(stream.get(), [&] {
    cuda::fused_add_rms_norm_bf16(stream.get(), bf16_ptr(out), bf16_ptr(residual), bf16_ptr(x),
                                  bf16_ptr(weight), tokens, hidden, 1e-5F);
  });
  std::printf("BENCH fused_add_rms_norm 8192x4096: %.3f ms, %.0f GB/s (8 bytes/element)\n", ms,
              8.0 * static_cast<double>(tokens * hidden) / ms * 1e-6);

  const cuda::DeviceBuffer gate_up =
      to_device(random_bits(static_cast<size_t>(tokens * 2 * intermediate), 11), stream.get());
  const cuda::DeviceBuffer act(static_cast<size_t>(tokens * intermediate) * 2);
  ms = time_ms(stream.get(), [&] {
    cuda::silu_mul_bf16(stream.get(), bf16_ptr(act), bf16_ptr(gate_up), tokens, intermediate);
  });
  std::printf("BENCH silu_mul 8192x14336: %.3f ms, %.0f GB/s (6 bytes/output)\n", ms,
              6.0 * static_cast<double>(tokens * intermediate) / ms * 1e-6);

  const int64_t stride = 6144;  // fused QKV of Llama-3.1-8B
  const cuda::DeviceBuffer qkv =
      to_device(random_bits(static_cast<size_t>(tokens * stride), 12), stream.get());
  std::vector<int32_t> positions(static_cast<size_t>(tokens));
  std::iota(positions.begin(), positions.end(), 0);
  const cuda::DeviceBuffer d_positions = to_device(positions, stream.get());
  const cuda::DeviceBuffer inv_freq = to_device(std::vector<float>(64, 0.01F), stream.get());
  const cuda::DeviceBuffer k_cache(static_cast<size_t>(tokens * 1024) * 2);
  const cuda::DeviceBuffer v_cache(static_cast<size_t>(tokens * 1024) * 2);
  ms = time_ms(stream.get(), [&] {
    cuda::rope_write_kv_cache_bf16(stream.get(), {.q = bf16_ptr(qkv),
                                                  .q_stride = stride,
                                                  .k = bf16_ptr(qkv) + 4096,
                                                  .v = bf16_ptr(qkv) + 5120,
                                                  .kv_stride = stride,
                                                  .k_cache = bf16_ptr(k_cache),
                                                  .v_cache = bf16_ptr(v_cache),
                                                  .slot_mapping = d_positions.as<int32_t>(),
                                                  .positions = d_positions.as<int32_t>(),
                                                  .inv_freq = inv_freq.as<float>(),
                                                  .num_tokens = tokens,
                                                  .num_heads = 32,
                                                  .num_kv_heads = 8,
                                                  .head_dim = 128});
  });
  // Reads and writes q and k, reads v, writes k and v into the cache.
  std::printf("BENCH rope_write_kv_cache 8192 tokens 32/8x128: %.3f ms, %.0f GB/s\n", ms,
              2.0 * static_cast<double>(tokens * (2 * 5120 + 1024 + 2048)) / ms * 1e-6);
}

TEST(CudaBench, DISABLED_Sampling) {
  cuda::Stream stream;
  const int64_t vocab = 128256;
  for (const int64_t rows : {1, 64, 256}) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0F, 3.0F);
    std::vector<float> logits(static_cast<size_t>(rows * vocab));
    for (float& l : logits) {
      l = normal(rng);
    }
    const cuda::DeviceBuffer d_logits = to_device(logits, stream.get());
    const cuda::DeviceBuffer tokens(static_cast<size_t>(rows) * 4);
    const size_t n = static_cast<size_t>(rows);
    for (const bool restricted : {false, true}) {
      const cuda::DeviceBuffer temperatures = to_device(std::vector<float>(n, 0.8F), stream.get());
      const cuda::DeviceBuffer top_k =
          to_device(std::vector<int32_t>(n, restricted ? 50 : 0), stream.get());
      const cuda::DeviceBuffer top_p =
          to_device(std::vector<float>(n, restricted ? 0.9F : 1.0F), stream.get());
      const cuda::DeviceBuffer min_p =
          to_device(std::vector<float>(n, restricted ? 0.05F : 0.0F), stream.get());
      const cuda::DeviceBuffer seeds = to_device(std::vector<uint64_t>(n, 1), stream.get());
      const cuda::DeviceBuffer offsets = to_device(std::vector<uint64_t>(n, 2), stream.get());
      const double ms = time_ms(stream.get(), [&] {
        cuda::sample_tokens(stream.get(), {.tokens = tokens.as<int32_t>(),
                                           .logits = d_logits.as<float>(),
                                           .num_rows = rows,
                                           .vocab_size = vocab,
                                           .temperatures = temperatures.as<float>(),
                                           .top_k = top_k.as<int32_t>(),
                                           .top_p = top_p.as<float>(),
                                           .min_p = min_p.as<float>(),
                                           .seeds = seeds.as<uint64_t>(),
                                           .offsets = offsets.as<uint64_t>()});
      });
      std::printf("BENCH sampling %ld rows x 128256 (%s): %.1f us\n", rows,
                  restricted ? "top-k 50, top-p 0.9, min-p 0.05" : "temperature only", ms * 1e3);
    }
  }
}

}  // namespace
}  // namespace swiftkv
