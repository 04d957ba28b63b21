#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 2;
constexpr int kChunk = 8;  // bf16 per 16-byte load

// A 16-byte weight load that does not allocate in L1 (weights are read once; x stays cached).
__device__ __forceinline__ uint4 load_streaming(const __nv_bfloat16* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__device__ __forceinline__ void unpack(const uint4& v, float (&out)[kChunk]) {
  const auto* pairs = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
  for (int i = 0; i < kChunk / 2; ++i) {
    const float2 f = __bfloat1622float2(pairs[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

template <int kMaxTokens>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(GemvArgs args) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int64_t n0 = (static_cast<int64_t>(blockIdx.x) * kWarps + warp) * kRowsPerWarp;
  const int64_t n_total = args.out_features;
  if (n0 >= n_total) {
    return;
  }
  const int64_t k_total = args.in_features;
  const int num_tokens = static_cast<int>(args.num_tokens);
  float acc[kMaxTokens][kRowsPerWarp] = {};
  const __nv_bfloat16* w_rows[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    // A missing last row re-reads row n0 (in bounds) and is never stored.
    w_rows[r] = args.w + (n0 + r < n_total ? n0 + r : n0) * k_total;
  }
  // Loads in flight per lane: kUnroll iterations x 2 rows (fewer when many tokens use registers).
  constexpr int kUnroll = kMaxTokens <= 2 ? 4 : (kMaxTokens <= 4 ? 2 : 1);
#pragma unroll kUnroll
  for (int64_t k = static_cast<int64_t>(lane) * kChunk; k < k_total; k += 32 * kChunk) {
    float w[kRowsPerWarp][kChunk];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      unpack(load_streaming(w_rows[r] + k), w[r]);
    }
#pragma unroll
    for (int m = 0; m < kMaxTokens; ++m) {
      if (m < num_tokens) {
        float x[kChunk];
        const __nv_bfloat16* row = args.x + m * args.x_stride;
        unpack(__ldg(reinterpret_cast<const uint4*>(row + k)), x);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
          for (int i = 0; i < kChunk; ++i) {
            acc[m][r] = fmaf(x[i], w[r][i], acc[m][r]);
          }
        }
      }
    }
  }
#pragma unroll
  for (int m = 0; m < kMaxTokens; ++m) {
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      float v = acc[m][r];
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2) {
        v += __shfl_xor_sync(0xffffffffU, v, offset);
      }
      if (lane == 0 && m < num_tokens && n0 + r < n_total) {
        const int64_t index = m * n_total + n0 + r;
        if (args.out_f32) {
          static_cast<float*>(args.out)[index] = v;
        } else {
          static_cast<__nv_bfloat16*>(args.out)[index] = __float2bfloat16(v);
        }
      }
    }
  }
}

template <int kMaxTokens>
void launch(cudaStream_t stream, const GemvArgs& args) {
  const int64_t rows_per_block = kWarps * kRowsPerWarp;
  const auto blocks =
      static_cast<unsigned>((args.out_features + rows_per_block - 1) / rows_per_block);
  gemv_kernel<kMaxTokens><<<blocks, kWarps * 32, 0, stream>>>(args);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

bool gemv_supported(const GemvArgs& args) {
  return args.num_tokens >= 1 && args.num_tokens <= kGemvMaxTokens && args.in_features > 0 &&
         args.in_features % kChunk == 0 && args.x_stride % kChunk == 0 && is_aligned16(args.x) &&
         is_aligned16(args.w) && args.out_features > 0;
}

void gemv_bf16(cudaStream_t stream, const GemvArgs& args) {
  SWIFTKV_CHECK(gemv_supported(args), "gemv: unsupported arguments: num_tokens ", args.num_tokens,
                ", in_features ", args.in_features, ", x_stride ", args.x_stride);
  SWIFTKV_CHECK(args.x_stride >= args.in_features, "gemv: x_stride ", args.x_stride,
                " too small for in_features ", args.in_features);
  if (args.num_tokens == 1) {
    launch<1>(stream, args);
  } else if (args.num_tokens == 2) {
    launch<2>(stream, args);
  } else if (args.num_tokens <= 4) {
    launch<4>(stream, args);
  } else {
    launch<8>(stream, args);
  }
}

}  // namespace swiftkv::cuda
