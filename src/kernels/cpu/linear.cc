// Fast linear layer, out = x · wᵀ, split over out_features (N) across the ThreadPool.
//
// Cost, with T = num_tokens, K = in_features, N = out_features: 2·T·N·K flops; the weight moves
// N·K·s bytes (s = 4, 2, 2 for f32, bf16, f16), x and out T·(K + N)·4.
// - T <= max_streamed_tokens(K) (decode, small batches, Phase B): a register-tiled kernel
//   (4 weight rows x 4 tokens of accumulators) that reads each weight row from memory once and
//   passes all T tokens over it while it sits in L1/L2, converting bf16/f16 -> f32 in registers
//   (zero-extend + shift for bf16). Arithmetic intensity is T/s flops per weight byte (0.5 for
//   one token with bf16), so at small T it is memory-bound and should run at the machine's
//   read bandwidth: bf16 4096 x 4096 is 32 MiB, 2-3 ms at 10-16 GB/s on one core, and
//   GFLOP/s = T·GB/s. From T ~ 8 it becomes compute-bound (~50-60 GFLOP/s per AVX-512 core
//   measured). It needs x in L2, hence the K-dependent limit.
// - Larger T (prefill): cblas_sgemm per thread on its N slice. bf16/f16 weights are converted
//   kBlockFloats at a time into a per-thread buffer that stays in L2 (extra traffic s + 4 bytes
//   per weight element per call, independent of T), so the sgemm is the cost.
// Measured on one Emerald Rapids core (bf16, 4096 x 4096): the tiled kernel beats OpenBLAS
// 0.3.21 sgemm (which repacks w every call) 2-4x at T <= 32 and ties at T = 128; see also the
// OpenBLAS core-detection warning below.
#include "kernels/cpu/linear.h"

#include <cblas.h>
#include <strings.h>

#include <algorithm>
#include <climits>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/logging.h"
#include "kernels/cpu/convert.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

namespace swiftkv::kernels::cpu {
namespace {

constexpr int64_t kTileRows = 4;    // weight rows per tile
constexpr int64_t kTokenGroup = 4;  // tokens per tile: 4 x 4 accumulators in registers
constexpr int64_t kStreamedXBytes = int64_t{1} << 20;  // x kept in L2 by the tiled kernel
constexpr int64_t kMaxStreamedTokens = 64;
constexpr int64_t kBlockFloats = int64_t{1} << 18;  // 1 MiB conversion buffer per thread

// Up to this many tokens the tiled kernel runs (x [T, K] f32 must fit kStreamedXBytes).
int64_t max_streamed_tokens(int64_t in_features) {
  return std::clamp<int64_t>(kStreamedXBytes / (4 * in_features), kTokenGroup, kMaxStreamedTokens);
}

// out[t, n + r] = x[t, :] · w[n + r, :] for t < T, r < R, reading each weight row once.
// w: [N, K] of dtype W; x: [T, K]; out: [T, N].
template <DType W, int64_t T, int64_t R>
[[gnu::always_inline]] inline void gemv_tile(const void* w, const float* x, float* out, int64_t n,
                                             int64_t k, int64_t out_features) {
  simd::VecF acc[R][T] = {};
  int64_t i = 0;
  for (; i + simd::kLanes <= k; i += simd::kLanes) {
    simd::VecF xv[T];
    for (int64_t t = 0; t < T; ++t) {
      xv[t] = simd::load(x + t * k + i);
    }
    for (int64_t r = 0; r < R; ++r) {
      const simd::VecF wv = simd::load_as_f32<W>(w, (n + r) * k + i);
      for (int64_t t = 0; t < T; ++t) {
        acc[r][t] += wv * xv[t];
      }
    }
  }
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t t = 0; t < T; ++t) {
      float s = simd::sum(acc[r][t]);
      for (int64_t j = i; j < k; ++j) {
        s += simd::scalar_as_f32<W>(w, (n + r) * k + j) * x[t * k + j];
      }
      out[t * out_features + n + r] = s;
    }
  }
}

// Rows [n, n + R) of w against all num_tokens rows of x, kTokenGroup tokens at a time: the R
// weight rows stay in L1/L2 while the token groups pass over them, so w is read from memory once.
template <DType W, int64_t R>
[[gnu::always_inline]] inline void gemv_tile_all_tokens(const void* w, const float* x, float* out,
                                                        int64_t num_tokens, int64_t n, int64_t k,
                                                        int64_t out_features) {
  static_assert(kTokenGroup == 4);
  for (int64_t t = 0; t < num_tokens; t += kTokenGroup) {
    const float* xt = x + t * k;
    float* outt = out + t * out_features;
    switch (std::min(kTokenGroup, num_tokens - t)) {
      case 1:
        gemv_tile<W, 1, R>(w, xt, outt, n, k, out_features);
        break;
      case 2:
        gemv_tile<W, 2, R>(w, xt, outt, n, k, out_features);
        break;
      case 3:
        gemv_tile<W, 3, R>(w, xt, outt, n, k, out_features);
        break;
      default:
        gemv_tile<W, 4, R>(w, xt, outt, n, k, out_features);
        break;
    }
  }
}

template <DType W>
[[gnu::always_inline]] inline void gemv_rows_typed(int64_t num_tokens, const void* w,
                                                   const float* x, float* out, int64_t n_begin,
                                                   int64_t n_end, int64_t k, int64_t out_features) {
  int64_t n = n_begin;
  for (; n + kTileRows <= n_end; n += kTileRows) {
    gemv_tile_all_tokens<W, kTileRows>(w, x, out, num_tokens, n, k, out_features);
  }
  for (; n < n_end; ++n) {
    gemv_tile_all_tokens<W, 1>(w, x, out, num_tokens, n, k, out_features);
  }
}

// Output features [n_begin, n_end) for num_tokens <= max_streamed_tokens(k).
SWIFTKV_CPU_CLONES void gemv_rows(DType w_dtype, int64_t num_tokens, const void* w, const float* x,
                                  float* out, int64_t n_begin, int64_t n_end, int64_t k,
                                  int64_t out_features) {
  switch (w_dtype) {
    case DType::kBF16:
      return gemv_rows_typed<DType::kBF16>(num_tokens, w, x, out, n_begin, n_end, k, out_features);
    case DType::kF16:
      return gemv_rows_typed<DType::kF16>(num_tokens, w, x, out, n_begin, n_end, k, out_features);
    default:
      return gemv_rows_typed<DType::kF32>(num_tokens, w, x, out, n_begin, n_end, k, out_features);
  }
}

// Once per process: OpenBLAS runs single-threaded (the pool provides the threads, so
// `--threads 1` means one), and a warning when OpenBLAS fell back to pre-AVX2 kernels on an AVX2
// CPU it does not recognise (0.3.21 runs Emerald Rapids as "Prescott", 4-6x slower sgemm; the
// environment variable OPENBLAS_CORETYPE, read when the library loads, overrides it).
void init_openblas() {
  static std::once_flag once;
  std::call_once(once, [] {
    openblas_set_num_threads(1);
#if defined(__x86_64__)
    const char* core = openblas_get_corename();
    bool modern = false;
    for (const char* name : {"haswell", "skylakex", "cooperlake", "sapphirerapids", "zen"}) {
      modern = modern || strcasecmp(core, name) == 0;
    }
    if (!modern && __builtin_cpu_supports("avx2")) {
      log_warning("OpenBLAS uses its '", core, "' kernels on this AVX2 CPU, so prefill GEMMs are ",
                  "slow; set OPENBLAS_CORETYPE=",
                  __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell", " to fix it");
    }
#endif
  });
}

// out[:, 0:rows] = x · w_rowsᵀ with out's row stride ldc. x: [m, k]; w_rows: [rows, k] f32.
void sgemm_nt(const float* x, const float* w_rows, float* out, int64_t m, int64_t rows, int64_t k,
              int64_t ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(rows),
              static_cast<int>(k), 1.0F, x, static_cast<int>(k), w_rows, static_cast<int>(k), 0.0F,
              out, static_cast<int>(ldc));
}

// Output features [n_begin, n_end) for num_tokens > max_streamed_tokens(k).
void gemm_rows(const Tensor& out, const Tensor& x, const Tensor& w, int64_t n_begin,
               int64_t n_end) {
  const int64_t m = x.dim(0);
  const int64_t k = x.dim(1);
  const int64_t ldc = w.dim(0);
  if (w.dtype() == DType::kF32) {
    sgemm_nt(x.data<float>(), w.data<float>() + n_begin * k, out.data<float>() + n_begin, m,
             n_end - n_begin, k, ldc);
    return;
  }
  thread_local std::vector<float> block;
  const int64_t block_rows = std::max<int64_t>(16, kBlockFloats / k / 16 * 16);
  block.resize(static_cast<size_t>(std::min(block_rows, n_end - n_begin) * k));
  const auto* w_bytes = static_cast<const char*>(w.raw());
  for (int64_t n = n_begin; n < n_end; n += block_rows) {
    const int64_t rows = std::min(block_rows, n_end - n);
    convert_to_f32(w.dtype(), w_bytes + static_cast<size_t>(n * k) * dtype_size(w.dtype()),
                   block.data(), rows * k);
    sgemm_nt(x.data<float>(), block.data(), out.data<float>() + n, m, rows, k, ldc);
  }
}

}  // namespace

void linear(ThreadPool& pool, const Tensor& out, const Tensor& x, const Tensor& w) {
  const int64_t num_tokens = x.dim(0);
  const int64_t in_features = x.dim(1);
  const int64_t out_features = w.dim(0);
  if (num_tokens == 0 || out_features == 0) {
    return;
  }
  if (in_features == 0) {
    std::fill_n(out.data<float>(), out.numel(), 0.0F);
    return;
  }
  if (num_tokens <= max_streamed_tokens(in_features)) {
    const int64_t num_tiles = (out_features + kTileRows - 1) / kTileRows;
    pool.parallel_for(
        num_tiles,
        [&](int64_t begin, int64_t end) {
          gemv_rows(w.dtype(), num_tokens, w.raw(), x.data<float>(), out.data<float>(),
                    begin * kTileRows, std::min(end * kTileRows, out_features), in_features,
                    out_features);
        },
        min_items_per_chunk(kTileRows * num_tokens * in_features));
    return;
  }
  SWIFTKV_CHECK(num_tokens <= INT_MAX && in_features <= INT_MAX && out_features <= INT_MAX,
                "linear: BLAS dimensions must fit an int: x ", shape_str(x.shape()), " w ",
                shape_str(w.shape()));
  init_openblas();
  pool.parallel_for(
      out_features, [&](int64_t begin, int64_t end) { gemm_rows(out, x, w, begin, end); },
      min_items_per_chunk(num_tokens * in_features));
}

}  // namespace swiftkv::kernels::cpu
