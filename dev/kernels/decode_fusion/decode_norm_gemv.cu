#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/decode_norm_gemv.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kChunk = 8;   // bf16 per 16-byte access
constexpr int kLoads = 16;  // 16-byte weight loads per row and lane in flight (4096 columns)
constexpr unsigned kFullMask = 0xffffffffU;

using Chunk = BF16Vec<kChunk>;

// A 16-byte weight load that does not allocate in L1 (weights are read once per step).
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

__device__ __forceinline__ float round_bf16(float v) {
  return __bfloat162float(__float2bfloat16(v));
}

// The epilogue of one output pair (v0 = row0, v1 = row1, f32 sums) for token m.
__device__ __forceinline__ void store_pair(const DecodeNormGemvArgs& a, int m, int pair,
                                           int64_t row0, int64_t row1, float v0, float v1) {
  const float x0 = round_bf16(v0);  // the projection output, as the unfused GEMM stores it
  const float x1 = round_bf16(v1);
  if (a.epilogue == DecodeEpilogue::kSiluMul) {
    const int64_t width = a.out_features / 2;
    a.out[m * width + pair] = __float2bfloat16(x0 / (1.0F + expf(-x0)) * x1);
    return;
  }
  if (a.epilogue == DecodeEpilogue::kNone) {
    a.out[m * a.out_features + row0] = __float2bfloat16(x0);
    a.out[m * a.out_features + row1] = __float2bfloat16(x1);
    return;
  }
  const int half = static_cast<int>(a.head_dim / 2);
  const int head = pair / half;
  const int i = pair % half;
  const int num_heads = static_cast<int>(a.num_heads);
  const int num_kv_heads = static_cast<int>(a.num_kv_heads);
  __nv_bfloat16 lo = __float2bfloat16(x0);
  __nv_bfloat16 hi = __float2bfloat16(x1);
  if (head < num_heads + num_kv_heads) {  // q or k: rotate (rope_kv_cache.cu's arithmetic)
    const float angle = static_cast<float>(a.positions[m]) * a.inv_freq[i];
    const float c = cosf(angle);
    const float s = sinf(angle);
    lo = __float2bfloat16(x0 * c - x1 * s);
    hi = __float2bfloat16(x1 * c + x0 * s);
  }
  a.out[m * a.out_features + row0] = lo;
  a.out[m * a.out_features + row1] = hi;
  if (a.k_cache != nullptr && head >= num_heads) {
    const int64_t slot = a.slot_mapping[m];
    if (slot >= 0) {
      const int kv = head - num_heads;  // k heads, then v heads
      __nv_bfloat16* cache = kv < num_kv_heads ? a.k_cache : a.v_cache;
      const int64_t base = (slot * num_kv_heads + kv % num_kv_heads) * a.head_dim + i;
      cache[base] = lo;
      cache[base + half] = hi;
    }
  }
}

template <int kTokens, bool kRolling>
__global__ void __launch_bounds__(kThreads)
    decode_norm_gemv_kernel(DecodeNormGemvArgs a, int num_pairs, int pairs_per_warp) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  auto* x_smem = reinterpret_cast<uint4*>(shared_raw);  // [num_tokens][chunks] normalized x
  __shared__ float warp_squares[kWarps][kTokens];
  __shared__ float inv_rms[kTokens];
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % 32;
  const int warp = tid / 32;
  const int num_tokens = static_cast<int>(a.num_tokens);
  const int hidden = static_cast<int>(a.hidden_size);
  const int chunks = hidden / kChunk;

  // This warp's pairs of output rows: first_pair + p * kWarps for p < pairs_per_warp.
  const int first_pair = static_cast<int>(blockIdx.x) * pairs_per_warp * kWarps + warp;
  int64_t row0 = 0;
  int64_t row1 = 0;
  const auto set_rows = [&](int pair) {
    if (a.epilogue != DecodeEpilogue::kRopeKvCache) {
      row0 = pair;
      row1 = pair + a.out_features / 2;
    } else {
      const int half = static_cast<int>(a.head_dim / 2);
      row0 = (pair / half) * a.head_dim + pair % half;
      row1 = row0 + half;
    }
  };
  uint4 wa[kLoads];
  uint4 wb[kLoads];
  const auto load = [&](int base) {
    const __nv_bfloat16* w0 = a.w + row0 * hidden;
    const __nv_bfloat16* w1 = a.w + row1 * hidden;
#pragma unroll
    for (int j = 0; j < kLoads; ++j) {
      const int c = base + lane + 32 * j;
      if (c < chunks) {
        wa[j] = load_streaming(w0 + c * kChunk);
        wb[j] = load_streaming(w1 + c * kChunk);
      }
    }
  };
  if (first_pair < num_pairs) {
    set_rows(first_pair);
    load(0);
  }
  // Let the next kernel (decode attention, a programmatic dependent launch) be scheduled once
  // every block of this grid has started; it waits for this grid's completion itself.
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
  // The weights do not depend on the previous kernel: the first pair's loads above stream
  // before waiting for it (a no-op when launched without programmatic stream serialization).
  asm volatile("griddepcontrol.wait;\n" ::: "memory");

  // Prologue: h = residual (+ add) rounded to bf16 into shared memory, sum of squares per row.
  float squares[kTokens];
#pragma unroll
  for (int m = 0; m < kTokens; ++m) {
    squares[m] = 0.0F;
  }
#pragma unroll 4
  for (int c = tid; c < chunks; c += kThreads) {
#pragma unroll
    for (int m = 0; m < kTokens; ++m) {
      if (m < num_tokens) {
        const int64_t offset = static_cast<int64_t>(m) * hidden + c * kChunk;
        Chunk h = *reinterpret_cast<const Chunk*>(a.residual + offset);
        if (a.add != nullptr) {
          const Chunk x = *reinterpret_cast<const Chunk*>(a.add + offset);
#pragma unroll
          for (int j = 0; j < kChunk; ++j) {
            h.v[j] = __float2bfloat16(__bfloat162float(x.v[j]) + __bfloat162float(h.v[j]));
          }
        }
#pragma unroll
        for (int j = 0; j < kChunk; ++j) {
          const float v = __bfloat162float(h.v[j]);
          squares[m] += v * v;
        }
        if (blockIdx.x == 0 && a.residual_out != nullptr) {
          *reinterpret_cast<Chunk*>(a.residual_out + offset) = h;
        }
        reinterpret_cast<Chunk*>(x_smem)[m * chunks + c] = h;
      }
    }
  }
#pragma unroll
  for (int m = 0; m < kTokens; ++m) {
    float v = squares[m];
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
      v += __shfl_xor_sync(kFullMask, v, offset);
    }
    if (lane == 0) {
      warp_squares[warp][m] = v;
    }
  }
  __syncthreads();
  if (tid < kTokens) {
    float total = 0.0F;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      total += warp_squares[w][tid];
    }
    inv_rms[tid] = rsqrtf(total / static_cast<float>(hidden) + a.eps);
  }
  __syncthreads();
  const auto* norm_weight = reinterpret_cast<const Chunk*>(a.norm_weight);
#pragma unroll 4
  for (int c = tid; c < chunks && norm_weight != nullptr; c += kThreads) {
    const Chunk g = norm_weight[c];
#pragma unroll
    for (int m = 0; m < kTokens; ++m) {
      if (m < num_tokens) {
        Chunk& h = reinterpret_cast<Chunk*>(x_smem)[m * chunks + c];
        Chunk x;
#pragma unroll
        for (int j = 0; j < kChunk; ++j) {
          x.v[j] =
              __float2bfloat16(__bfloat162float(h.v[j]) * inv_rms[m] * __bfloat162float(g.v[j]));
        }
        h = x;
      }
    }
  }
  __syncthreads();
  // The warp's work as units (pair p, batch of kLoads chunks per lane), in order. kRolling: the
  // loads of unit u + 1 go out chunk by chunk as unit u consumes its registers, so each warp
  // keeps about 16 KB in flight from its first load to its last (more registers: 2 blocks per
  // SM instead of 3 at one token); otherwise each unit loads when it starts. Unit 0's loads went
  // out before the wait.
  constexpr int kBatch = 32 * kLoads;
  const int num_batches = (chunks + kBatch - 1) / kBatch;
  int num_units = 0;
  if (first_pair < num_pairs) {
    num_units = min(pairs_per_warp, (num_pairs - first_pair + kWarps - 1) / kWarps) * num_batches;
  }
  float acc[kTokens][2];
  for (int u = 0; u < num_units; ++u) {
    const int pair = first_pair + (u / num_batches) * kWarps;
    const int base = (u % num_batches) * kBatch;
    if (base == 0) {
#pragma unroll
      for (int m = 0; m < kTokens; ++m) {
        acc[m][0] = acc[m][1] = 0.0F;
      }
    }
    if (!kRolling && u > 0) {
      load(base);  // row0 and row1 are this unit's
    }
    const int64_t cur_row0 = row0;
    const int64_t cur_row1 = row1;
    const bool has_next = u + 1 < num_units;
    const int next_base = ((u + 1) % num_batches) * kBatch;
    if (has_next && next_base == 0) {
      set_rows(first_pair + ((u + 1) / num_batches) * kWarps);
    }
    const __nv_bfloat16* next_w0 = a.w + row0 * hidden;
    const __nv_bfloat16* next_w1 = a.w + row1 * hidden;
    // The GEMV: lane-strided 16-byte chunks of both rows against every token's x.
#pragma unroll
    for (int j = 0; j < kLoads; ++j) {
      const int c = base + lane + 32 * j;
      float f0[kChunk];
      float f1[kChunk];
      if (c < chunks) {
        unpack(wa[j], f0);
        unpack(wb[j], f1);
      }
      const int next_c = next_base + lane + 32 * j;
      if (kRolling && has_next && next_c < chunks) {
        wa[j] = load_streaming(next_w0 + next_c * kChunk);
        wb[j] = load_streaming(next_w1 + next_c * kChunk);
      }
      if (c < chunks) {
#pragma unroll
        for (int m = 0; m < kTokens; ++m) {
          if (m < num_tokens) {
            float x[kChunk];
            unpack(x_smem[m * chunks + c], x);
#pragma unroll
            for (int e = 0; e < kChunk; ++e) {
              acc[m][0] = fmaf(x[e], f0[e], acc[m][0]);
              acc[m][1] = fmaf(x[e], f1[e], acc[m][1]);
            }
          }
        }
      }
    }
    if (base + kBatch < chunks) {
      continue;  // more batches of this pair
    }
#pragma unroll
    for (int m = 0; m < kTokens; ++m) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
#pragma unroll
        for (int offset = 16; offset > 0; offset /= 2) {
          acc[m][r] += __shfl_xor_sync(kFullMask, acc[m][r], offset);
        }
      }
    }
    // Lane m stores token m (every lane holds every sum after the butterfly).
#pragma unroll
    for (int m = 0; m < kTokens; ++m) {
      if (lane == m && m < num_tokens) {
        store_pair(a, m, pair, cur_row0, cur_row1, acc[m][0], acc[m][1]);
      }
    }
  }
}

int num_sms() {
  static const int count = [] {
    int device = 0;
    int n = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    return n;
  }();
  return count;
}

template <int kTokens, bool kRolling>
void launch_variant(cudaStream_t stream, const DecodeNormGemvArgs& args, int num_pairs) {
  const size_t shared = static_cast<size_t>(args.num_tokens * args.hidden_size) * 2;
  if (shared > 48 * 1024) {
    CUDA_CHECK(cudaFuncSetAttribute(decode_norm_gemv_kernel<kTokens, kRolling>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(shared)));
  }
  // One wave: as many blocks as fit on the GPU at once, each warp looping over its pairs, so
  // every block pays the prologue (input rows from L2, a block reduction) once, while its first
  // weight loads are in flight; more waves stall each new block on its prologue.
  int blocks_per_sm = 0;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &blocks_per_sm, decode_norm_gemv_kernel<kTokens, kRolling>, kThreads, shared));
  const int resident_warps = std::max(1, blocks_per_sm) * num_sms() * kWarps;
  int pairs_per_warp = (num_pairs + resident_warps - 1) / resident_warps;
  static const int pairs_override = [] {
    const char* env = std::getenv("SWIFTKV_DECODE_GEMV_PAIRS");  // experiment knob
    return env != nullptr ? std::atoi(env) : 0;
  }();
  if (pairs_override > 0) {
    pairs_per_warp = pairs_override;
  }
  // Programmatic dependent launch: the weight loads overlap the previous kernel's tail.
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  const int pairs_per_block = kWarps * pairs_per_warp;
  config.gridDim = dim3(static_cast<unsigned>((num_pairs + pairs_per_block - 1) / pairs_per_block));
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = shared;
  config.stream = stream;
  static const bool pdl = [] {  // experiment knob: SWIFTKV_DECODE_PDL=0
    const char* env = std::getenv("SWIFTKV_DECODE_PDL");
    return env == nullptr || env[0] != '0';
  }();
  config.attrs = &attribute;
  config.numAttrs = pdl ? 1 : 0;
  CUDA_CHECK(cudaLaunchKernelEx(&config, decode_norm_gemv_kernel<kTokens, kRolling>, args,
                                num_pairs, pairs_per_warp));
}

template <int kTokens>
void launch(cudaStream_t stream, const DecodeNormGemvArgs& args, int num_pairs) {
  static const bool rolling = [] {  // experiment knob: SWIFTKV_DECODE_GEMV_ROLLING=0
    const char* env = std::getenv("SWIFTKV_DECODE_GEMV_ROLLING");
    return env == nullptr || env[0] != '0';
  }();
  if (rolling) {
    launch_variant<kTokens, true>(stream, args, num_pairs);
  } else {
    launch_variant<kTokens, false>(stream, args, num_pairs);
  }
}

}  // namespace

bool decode_norm_gemv_supported(int64_t num_tokens, int64_t hidden_size) {
  return num_tokens >= 1 && num_tokens <= kDecodeGemvMaxTokens && hidden_size > 0 &&
         hidden_size % kChunk == 0 && num_tokens * hidden_size * 2 <= 200 * 1024;
}

void decode_norm_gemv_bf16(cudaStream_t stream, const DecodeNormGemvArgs& args) {
  SWIFTKV_CHECK(decode_norm_gemv_supported(args.num_tokens, args.hidden_size),
                "decode_norm_gemv: unsupported num_tokens ", args.num_tokens, ", hidden_size ",
                args.hidden_size);
  for (const void* pointer :
       {static_cast<const void*>(args.residual), static_cast<const void*>(args.residual_out),
        static_cast<const void*>(args.norm_weight), static_cast<const void*>(args.w)}) {
    SWIFTKV_CHECK(is_aligned16(pointer), "decode_norm_gemv: unaligned tensor ", pointer);
  }
  SWIFTKV_CHECK(args.residual != nullptr && args.w != nullptr && args.out != nullptr &&
                    (args.norm_weight == nullptr) == (args.residual_out == nullptr) &&
                    (args.norm_weight != nullptr || args.add == nullptr),
                "decode_norm_gemv: missing inputs (norm_weight and residual_out go together)");
  SWIFTKV_CHECK(args.add == nullptr || is_aligned16(args.add), "decode_norm_gemv: add ",
                static_cast<const void*>(args.add), " unaligned");
  SWIFTKV_CHECK(args.residual_out == nullptr ||
                    (args.residual_out != args.residual && args.residual_out != args.add),
                "decode_norm_gemv: residual_out aliases an input");
  SWIFTKV_CHECK(args.out_features > 0 && args.out_features % 2 == 0,
                "decode_norm_gemv: out_features ", args.out_features, " must be even");
  if (args.epilogue == DecodeEpilogue::kRopeKvCache) {
    SWIFTKV_CHECK(
        args.head_dim > 0 && args.head_dim % 2 == 0 &&
            args.out_features == (args.num_heads + 2 * args.num_kv_heads) * args.head_dim &&
            args.positions != nullptr && args.inv_freq != nullptr &&
            (args.k_cache == nullptr || (args.v_cache != nullptr && args.slot_mapping != nullptr)),
        "decode_norm_gemv: rope epilogue of ", args.out_features, " columns vs ", args.num_heads,
        " + 2 x ", args.num_kv_heads, " heads of ", args.head_dim);
  }
  const auto num_pairs = static_cast<int>(args.out_features / 2);
  if (args.num_tokens == 1) {
    launch<1>(stream, args, num_pairs);
  } else if (args.num_tokens == 2) {
    launch<2>(stream, args, num_pairs);
  } else if (args.num_tokens <= 4) {
    launch<4>(stream, args, num_pairs);
  } else {
    launch<8>(stream, args, num_pairs);
  }
}

}  // namespace swiftkv::cuda
