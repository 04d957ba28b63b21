// Fast linear layer, out = x · wᵀ, split over out_features (N) across the ThreadPool.
//
// Cost, with T = num_tokens, K = in_features, N = out_features: 2·T·N·K flops; the weight moves
// N·K·s bytes (s = 4, 2, 2 for f32, bf16, f16), x and out T·(K + N)·4.
// - T <= kGemvMaxTokens (decode): a GEMV that streams each weight row once and uses it for all
//   T tokens, converting bf16/f16 -> f32 in registers. Arithmetic intensity is T/s flops per
//   weight byte (0.5 for one token with bf16 weights), far below any CPU's flops/byte, so this
//   path is memory-bound and should run at the machine's read bandwidth: for bf16 4096 x 4096
//   (32 MiB) at 10-20 GB/s per core that is 1.7-3.4 ms with one thread, GFLOP/s = T·GB/s.
// - T > kGemvMaxTokens (prefill): cblas_sgemm per thread on its N slice. bf16/f16 weights are
//   converted kBlockFloats at a time into a per-thread buffer that stays in L2 (extra traffic:
//   s + 4 bytes per weight element per call, once, independent of T) so the sgemm is the cost:
//   compute-bound from T ~ 32 on.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/convert.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

namespace swiftkv::kernels::cpu {
namespace {

constexpr int64_t kGemvMaxTokens = 4;
constexpr int64_t kGemvTileRows = 4;  // weight rows per GEMV tile: 4·T accumulators in registers
constexpr int64_t kBlockFloats = int64_t{1} << 18;  // 1 MiB conversion buffer per thread

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

template <DType W, int64_t T>
[[gnu::always_inline]] inline void gemv_rows_typed(const void* w, const float* x, float* out,
                                                   int64_t n_begin, int64_t n_end, int64_t k,
                                                   int64_t out_features) {
  int64_t n = n_begin;
  for (; n + kGemvTileRows <= n_end; n += kGemvTileRows) {
    gemv_tile<W, T, kGemvTileRows>(w, x, out, n, k, out_features);
  }
  for (; n < n_end; ++n) {
    gemv_tile<W, T, 1>(w, x, out, n, k, out_features);
  }
}

template <DType W>
[[gnu::always_inline]] inline void gemv_rows_for_dtype(int64_t num_tokens, const void* w,
                                                       const float* x, float* out,
                                                       int64_t n_begin, int64_t n_end, int64_t k,
                                                       int64_t out_features) {
  switch (num_tokens) {
    case 1:
      return gemv_rows_typed<W, 1>(w, x, out, n_begin, n_end, k, out_features);
    case 2:
      return gemv_rows_typed<W, 2>(w, x, out, n_begin, n_end, k, out_features);
    case 3:
      return gemv_rows_typed<W, 3>(w, x, out, n_begin, n_end, k, out_features);
    default:
      static_assert(kGemvMaxTokens == 4);
      return gemv_rows_typed<W, 4>(w, x, out, n_begin, n_end, k, out_features);
  }
}

// Output features [n_begin, n_end) for num_tokens <= kGemvMaxTokens.
SWIFTKV_CPU_CLONES void gemv_rows(DType w_dtype, int64_t num_tokens, const void* w,
                                  const float* x, float* out, int64_t n_begin, int64_t n_end,
                                  int64_t k, int64_t out_features) {
  switch (w_dtype) {
    case DType::kBF16:
      return gemv_rows_for_dtype<DType::kBF16>(num_tokens, w, x, out, n_begin, n_end, k,
                                               out_features);
    case DType::kF16:
      return gemv_rows_for_dtype<DType::kF16>(num_tokens, w, x, out, n_begin, n_end, k,
                                              out_features);
    default:
      return gemv_rows_for_dtype<DType::kF32>(num_tokens, w, x, out, n_begin, n_end, k,
                                              out_features);
  }
}

void use_one_openblas_thread() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

// out[:, 0:rows] = x · w_rowsᵀ with out's row stride ldc. x: [m, k]; w_rows: [rows, k] f32.
void sgemm_nt(const float* x, const float* w_rows, float* out, int64_t m, int64_t rows, int64_t k,
              int64_t ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m),
              static_cast<int>(rows), static_cast<int>(k), 1.0F, x, static_cast<int>(k), w_rows,
              static_cast<int>(k), 0.0F, out, static_cast<int>(ldc));
}

// Output features [n_begin, n_end) for num_tokens > kGemvMaxTokens.
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
  if (num_tokens <= kGemvMaxTokens) {
    const int64_t num_tiles = (out_features + kGemvTileRows - 1) / kGemvTileRows;
    pool.parallel_for(
        num_tiles,
        [&](int64_t begin, int64_t end) {
          gemv_rows(w.dtype(), num_tokens, w.raw(), x.data<float>(), out.data<float>(),
                    begin * kGemvTileRows, std::min(end * kGemvTileRows, out_features),
                    in_features, out_features);
        },
        min_items_per_chunk(kGemvTileRows * num_tokens * in_features));
    return;
  }
  SWIFTKV_CHECK(num_tokens <= INT_MAX && in_features <= INT_MAX && out_features <= INT_MAX,
                "linear: BLAS dimensions must fit an int: x ", shape_str(x.shape()), " w ",
                shape_str(w.shape()));
  use_one_openblas_thread();
  pool.parallel_for(
      out_features, [&](int64_t begin, int64_t end) { gemm_rows(out, x, w, begin, end); },
      min_items_per_chunk(num_tokens * in_features));
}

}  // namespace swiftkv::kernels::cpu
