#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/programmatic_launch.cuh"
#include "kernels/cuda/split_kv_block.cuh"
#include "kernels/cuda/split_kv_combine.cuh"
#include "kernels/cuda/split_kv_pipeline.cuh"

namespace swiftkv::cuda {
namespace split_kv {
namespace {

// bf16 cache. Query heads of the group are the rows of a 16-row MMA tile: S = Q Kᵀ per warp is
// 16 rows x its 16 positions, O = P V 16 rows x head_dim.
template <int kHeadDim, bool kFusedRope>
__device__ __forceinline__ void decode_attention_bf16(const KernelArgs<__nv_bfloat16>& args,
                                                      const RopeKernelArgs& rope) {
  constexpr int kKSteps = kHeadDim / 16;
  constexpr int kDimTiles = kHeadDim / 8;
  BlockPipeline<kHeadDim, __nv_bfloat16, kFusedRope> pipeline{args};
  if (!pipeline.start(rope)) {
    return;
  }
  const BlockWork& work = pipeline.work;
  const __nv_bfloat16* q_tile = pipeline.q_tile();

  const float scale_log2 = args.scale * 1.44269504088896340736F;
  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int g = lane / 4;
  const int t = lane % 4;
  uint32_t q_fragments[kKSteps][4];
  float o[kDimTiles][4];
#pragma unroll
  for (int d = 0; d < kDimTiles; ++d) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      o[d][e] = 0.0F;
    }
  }
  float row_max[2] = {-INFINITY, -INFINITY};
  float row_sum[2] = {0.0F, 0.0F};

  for (int tile = 0; tile < work.num_tiles; ++tile) {
    pipeline.wait_for(tile);
    if (tile == 0) {
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
        ldmatrix_x4(q_fragments[ks], q_tile + tile_offset<kHeadDim>(lane % 8 + ((lane / 8) % 2) * 8,
                                                                    ks * 2 + lane / 16));
      }
    }
    const int n0 = work.key_begin + tile * kTileKeys + warp * 16;
    if (n0 < work.key_end) {
      const auto* k_tile = reinterpret_cast<const __nv_bfloat16*>(pipeline.k_stage(tile));
      const auto* v_tile = reinterpret_cast<const __nv_bfloat16*>(pipeline.v_stage(tile));
      float s[2][4] = {};
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
        uint32_t b[4];
        ldmatrix_x4(b, k_tile + tile_offset<kHeadDim>(warp * 16 + lane % 8 + (lane / 16) * 8,
                                                      ks * 2 + (lane / 8) % 2));
        mma_bf16(s[0], q_fragments[ks], b[0], b[1]);
        mma_bf16(s[1], q_fragments[ks], b[2], b[3]);
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = n0 + j * 8 + 2 * t + (e & 1);
          s[j][e] = key < work.key_end ? s[j][e] * scale_log2 : -INFINITY;
        }
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float tile_max = attention::warp_max_quad(
            fmaxf(fmaxf(s[0][2 * r], s[0][2 * r + 1]), fmaxf(s[1][2 * r], s[1][2 * r + 1])));
        const float new_max = fmaxf(row_max[r], tile_max);
        const float base = new_max == -INFINITY ? 0.0F : new_max;
        const float correction = exp2f(row_max[r] - base);
        row_max[r] = new_max;
        row_sum[r] *= correction;
#pragma unroll
        for (int d = 0; d < kDimTiles; ++d) {
          o[d][2 * r] *= correction;
          o[d][2 * r + 1] *= correction;
        }
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          s[j][2 * r] = exp2f(s[j][2 * r] - base);
          s[j][2 * r + 1] = exp2f(s[j][2 * r + 1] - base);
          row_sum[r] += s[j][2 * r] + s[j][2 * r + 1];
        }
      }
      const uint32_t a[4] = {pack_bf16(s[0][0], s[0][1]), pack_bf16(s[0][2], s[0][3]),
                             pack_bf16(s[1][0], s[1][1]), pack_bf16(s[1][2], s[1][3])};
#pragma unroll
      for (int dp = 0; dp < kHeadDim / 16; ++dp) {
        uint32_t b[4];
        ldmatrix_x4_trans(
            b, v_tile + tile_offset<kHeadDim>(warp * 16 + lane % 8 + ((lane / 8) % 2) * 8,
                                              dp * 2 + lane / 16));
        mma_bf16(o[2 * dp], a, b[0], b[1]);
        mma_bf16(o[2 * dp + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();
  }
  // Combine the four warps' partial softmax states through shared memory.
  const WarpPartials warps = pipeline.finish();
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = g + 8 * r;
    const float total = attention::warp_sum_quad(row_sum[r]);
    float* out_row = warps.out + (warp * kMaxGroup + row) * kHeadDim;
#pragma unroll
    for (int d = 0; d < kDimTiles; ++d) {
      out_row[d * 8 + 2 * t] = o[d][2 * r];
      out_row[d * 8 + 2 * t + 1] = o[d][2 * r + 1];
    }
    if (t == 0) {
      warps.max[warp * kMaxGroup + row] = row_max[r];
      warps.sum[warp * kMaxGroup + row] = total;
    }
  }
  __syncthreads();
  write_block_result<kHeadDim>(warps, work, static_cast<int>(gridDim.z), 1.0F,
                               split_outputs<kHeadDim>(args));
}

template <int kHeadDim>
__global__ void __launch_bounds__(kThreads, 2)
    decode_attention_kernel(KernelArgs<__nv_bfloat16> args) {
  decode_attention_bf16<kHeadDim, false>(args, {});
}

template <int kHeadDim>
__global__ void __launch_bounds__(kThreads, 2)
    decode_attention_rope_kernel(KernelArgs<__nv_bfloat16> args, RopeKernelArgs rope) {
  decode_attention_bf16<kHeadDim, true>(args, rope);
}

__device__ __forceinline__ float max_over_key_lanes(float value) {  // lanes with the same t
  value = fmaxf(value, __shfl_xor_sync(kFullMask, value, 4));
  value = fmaxf(value, __shfl_xor_sync(kFullMask, value, 8));
  return fmaxf(value, __shfl_xor_sync(kFullMask, value, 16));
}

__device__ __forceinline__ float sum_over_key_lanes(float value) {
  value += __shfl_xor_sync(kFullMask, value, 4);
  value += __shfl_xor_sync(kFullMask, value, 8);
  return value + __shfl_xor_sync(kFullMask, value, 16);
}

// e4m3 cache, computed transposed so the positions fill the 16 rows of the MMA and the group's
// query heads its 8 columns (kNTiles column tiles: 1 for groups of up to 8 heads, 2 up to 16):
// per warp Sᵀ = K Qᵀ (16 positions x 8 heads, k = head dims) and Oᵀ = Vᵀ Pᵀ (16 dims x 8 heads
// per MMA, k = the warp's 16 positions). Against the bf16 kernel's layout (heads on the rows, 4
// of 16 used by Llama 3's groups) this halves the MMAs and the accumulators. The raw e4m3
// fragments that ldmatrix reads are converted in registers to f16 scaled by 2^-8 (7 ALU
// instructions per 4 values; the 2^8 is folded into the softmax scale for K and into the output
// for V); q and P are f16. Dims within each 16-dim step of Sᵀ are permuted to match the
// converted K fragments (k = 2t, 2t + 1 are dims 4t, 4t + 2; k = 2t + 8, 2t + 9 are dims 4t + 1,
// 4t + 3), q alike; the rows of each Oᵀ tile are the 8 even then the 8 odd dims of its 16; Pᵀ
// comes from the Sᵀ accumulators by one 8x8 transpose (movmatrix) per 8 positions.
template <int kHeadDim, int kNTiles>
__global__ void __launch_bounds__(kThreads, kNTiles == 1 ? 4 : 2)
    decode_attention_e4m3_kernel(KernelArgs<__nv_fp8_e4m3> args) {
  constexpr int kSteps = kHeadDim / 16;  // k steps of Sᵀ = row tiles of Oᵀ
  BlockPipeline<kHeadDim, __nv_fp8_e4m3> pipeline{args};
  if (!pipeline.start({})) {
    return;
  }
  const BlockWork& work = pipeline.work;
  const __nv_bfloat16* q_tile = pipeline.q_tile();

  const float scale_log2 = args.scale * 1.44269504088896340736F / attention::kE4M3ToF16Scale;
  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int g = lane / 4;
  const int t = lane % 4;
  // This lane's row address in an x4 ldmatrix of a raw stage: matrices = positions 0-7 and
  // 8-15 of the warp's 16, then the same for the next 16-byte (16-dim) chunk.
  const int stage_row = warp * 16 + lane % 8 + ((lane / 8) % 2) * 8;
  uint32_t q_fragments[kNTiles][kSteps][2];  // Qᵀ: b0 = dims (4t, 4t + 2), b1 = (4t + 1, 4t + 3)
  float o[kSteps][kNTiles]
         [4];  // Oᵀ: c0, c1 = dim 2g of the step, heads 2t, 2t + 1; c2, c3 dim 2g + 1
#pragma unroll
  for (int c = 0; c < kSteps; ++c) {
#pragma unroll
    for (int j = 0; j < kNTiles; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        o[c][j][e] = 0.0F;
      }
    }
  }
  float row_max[kNTiles][2];  // heads 8j + 2t + e
  float row_sum[kNTiles][2];
#pragma unroll
  for (int j = 0; j < kNTiles; ++j) {
    row_max[j][0] = row_max[j][1] = -INFINITY;
    row_sum[j][0] = row_sum[j][1] = 0.0F;
  }

  for (int tile = 0; tile < work.num_tiles; ++tile) {
    pipeline.wait_for(tile);
    if (tile == 0) {
#pragma unroll
      for (int j = 0; j < kNTiles; ++j) {
#pragma unroll
        for (int ks = 0; ks < kSteps; ++ks) {  // dims 16 ks + 4t .. 4t + 3 of head 8j + g
          const uint2 dims = *reinterpret_cast<const uint2*>(
              q_tile + tile_offset<kHeadDim>(8 * j + g, 2 * ks + t / 2) + 4 * (t % 2));
          const float2 lo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&dims.x));
          const float2 hi = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&dims.y));
          q_fragments[j][ks][0] = attention::pack_f16(lo.x, hi.x);
          q_fragments[j][ks][1] = attention::pack_f16(lo.y, hi.y);
        }
      }
    }
    const int n0 = work.key_begin + tile * kTileKeys + warp * 16;
    if (n0 < work.key_end) {
      const unsigned char* k_stage = pipeline.k_stage(tile);
      const unsigned char* v_stage = pipeline.v_stage(tile);
      float s[kNTiles][4] = {};  // c0, c1 = position g, heads 2t, 2t + 1; c2, c3 position g + 8
#pragma unroll
      for (int ks = 0; ks < kSteps; ks += 2) {
        uint32_t raw[4];
        ldmatrix_x4(raw,
                    k_stage + attention::e4m3_tile_offset<kHeadDim>(stage_row, ks + lane / 16));
#pragma unroll
        for (int h = 0; h < 2; ++h) {  // raw[2h]: positions 0-7 of step ks + h, raw[2h + 1]: 8-15
          uint32_t a[4];
          attention::e4m3x4_to_f16_pairs_scaled(raw[2 * h], a[0], a[2]);
          attention::e4m3x4_to_f16_pairs_scaled(raw[2 * h + 1], a[1], a[3]);
#pragma unroll
          for (int j = 0; j < kNTiles; ++j) {
            attention::mma_f16(s[j], a, q_fragments[j][ks + h][0], q_fragments[j][ks + h][1]);
          }
        }
      }
      uint32_t p_fragments[kNTiles][2];  // Pᵀ: b0 = positions 2t, 2t + 1 of head g, b1 = + 8
#pragma unroll
      for (int j = 0; j < kNTiles; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = n0 + g + 8 * (e / 2);
          s[j][e] = key < work.key_end ? s[j][e] * scale_log2 : -INFINITY;
        }
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float tile_max = max_over_key_lanes(fmaxf(s[j][e], s[j][e + 2]));
          const float new_max = fmaxf(row_max[j][e], tile_max);
          const float base = new_max == -INFINITY ? 0.0F : new_max;
          const float correction = exp2f(row_max[j][e] - base);
          row_max[j][e] = new_max;
          row_sum[j][e] *= correction;
#pragma unroll
          for (int c = 0; c < kSteps; ++c) {
            o[c][j][e] *= correction;
            o[c][j][e + 2] *= correction;
          }
          s[j][e] = exp2f(s[j][e] - base);
          s[j][e + 2] = exp2f(s[j][e + 2] - base);
          row_sum[j][e] += s[j][e] + s[j][e + 2];
        }
        p_fragments[j][0] = attention::transpose_8x8(attention::pack_f16(s[j][0], s[j][1]));
        p_fragments[j][1] = attention::transpose_8x8(attention::pack_f16(s[j][2], s[j][3]));
      }
#pragma unroll
      for (int c = 0; c < kSteps; c += 2) {
        // Transposed 8x8 b16 matrices of 8 positions x 16 e4m3 dims: a lane's word holds
        // positions 2t, 2t + 1 at dims 2g, 2g + 1 of the 16 (even pair: dim 2g, odd: 2g + 1).
        uint32_t raw[4];
        ldmatrix_x4_trans(
            raw, v_stage + attention::e4m3_tile_offset<kHeadDim>(stage_row, c + lane / 16));
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          uint32_t a[4];
          attention::e4m3x4_to_f16_pairs_scaled(raw[2 * h], a[0], a[1]);
          attention::e4m3x4_to_f16_pairs_scaled(raw[2 * h + 1], a[2], a[3]);
#pragma unroll
          for (int j = 0; j < kNTiles; ++j) {
            attention::mma_f16(o[c + h][j], a, p_fragments[j][0], p_fragments[j][1]);
          }
        }
      }
    }
    __syncthreads();
  }
  const WarpPartials warps = pipeline.finish();
#pragma unroll
  for (int j = 0; j < kNTiles; ++j) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int row = 8 * j + 2 * t + e;
      const float total = sum_over_key_lanes(row_sum[j][e]);
      float* out_row = warps.out + (warp * kMaxGroup + row) * kHeadDim;
#pragma unroll
      for (int c = 0; c < kSteps; ++c) {
        out_row[16 * c + 2 * g] = o[c][j][e];
        out_row[16 * c + 2 * g + 1] = o[c][j][e + 2];
      }
      if (g == 0) {
        warps.max[warp * kMaxGroup + row] = row_max[j][e];
        warps.sum[warp * kMaxGroup + row] = total;
      }
    }
  }
  __syncthreads();
  write_block_result<kHeadDim>(warps, work, static_cast<int>(gridDim.z),
                               1.0F / attention::kE4M3ToF16Scale, split_outputs<kHeadDim>(args));
}

// The split kernel for this cache type and group size.
template <int kHeadDim, typename TCache>
auto split_kernel(int64_t group) {
  if constexpr (attention::kIsE4M3<TCache>) {
    return group <= 8 ? decode_attention_e4m3_kernel<kHeadDim, 1>
                      : decode_attention_e4m3_kernel<kHeadDim, 2>;
  } else {
    (void)group;
    return decode_attention_kernel<kHeadDim>;
  }
}

// The split kernel, or with a RopeKernelArgs the fused-RoPE bf16 kernel, as a programmatic
// launch: scheduled while the kernel before it (RoPE, or the QKV projection) finishes, waiting
// for it on the GPU (at small batches the whole call takes microseconds).
template <int kHeadDim, typename TCache, typename... Rope>
void launch(cudaStream_t stream, const PagedAttentionArgsT<__nv_bfloat16, TCache>& args,
            int num_splits, const KernelArgs<TCache>& kernel_args, const Rope&... rope) {
  constexpr int kShared = SharedLayout<kHeadDim, TCache>::kBytes;
  static const bool configured = [] {  // once per process (one device)
    for (const int64_t group : {1, 16}) {
      CUDA_CHECK(cudaFuncSetAttribute(split_kernel<kHeadDim, TCache>(group),
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
    }
    if constexpr (!attention::kIsE4M3<TCache>) {
      CUDA_CHECK(cudaFuncSetAttribute(decode_attention_rope_kernel<kHeadDim>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
    }
    return true;
  }();
  (void)configured;
  const dim3 grid(static_cast<unsigned>(args.num_tokens), static_cast<unsigned>(args.num_kv_heads),
                  static_cast<unsigned>(num_splits));
  if constexpr (sizeof...(Rope) == 0) {
    launch_programmatic(split_kernel<kHeadDim, TCache>(args.num_heads / args.num_kv_heads), grid,
                        dim3(kThreads), kShared, stream, kernel_args);
  } else {
    launch_programmatic(decode_attention_rope_kernel<kHeadDim>, grid, dim3(kThreads), kShared,
                        stream, kernel_args, rope...);
  }
}

// The workspace: the split counters first (16-byte aligned), then the partial outputs and
// log-sum-exps.
size_t counter_bytes(int64_t num_tokens, int64_t num_kv_heads) {
  return static_cast<size_t>((num_tokens * num_kv_heads * 4 + 15) / 16 * 16);
}

}  // namespace
}  // namespace split_kv

using split_kv::counter_bytes;
using split_kv::kMaxSplits;

int decode_attention_num_splits(int64_t num_tokens, int64_t num_kv_heads) {
  static const int num_sms = [] {
    int device = 0;
    int count = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
    return count;
  }();
  const int64_t rows = std::max<int64_t>(1, num_tokens * num_kv_heads);
  // About one (row, split) block per SM: more splits (2 and 4 per SM were measured) cost more in
  // the combine than they gain in the splits (H200, batch 1-64, with a separate combine kernel
  // in session 5; batch 1 with the last-split combine in session 7; dev/kernels/NOTES.md). At
  // most one when that still leaves 8 splits or more: an SM holding two blocks finishes late,
  // and in a one-token step the projection after attention fits beside one block, not two
  // (H200, random llama-3.1-8b, ctx 2048: batch 1 4.26 -> 4.22 ms with 16 splits instead of
  // 17, batch 2 4.87 -> 4.76 ms with 8 instead of 9; fewer splits were slower at batch 4
  // (4 instead of 5: 5.07 -> 5.12 ms), 8 (2 instead of 3: 5.28 -> 5.51) and 16 (1 instead of
  // 2: 5.71 -> 6.32)).
  const int64_t fewer = int64_t{num_sms} / rows;
  const int64_t splits = fewer >= 8 ? fewer : (int64_t{num_sms} + rows - 1) / rows;
  return static_cast<int>(std::clamp<int64_t>(splits, 1, kMaxSplits));
}

size_t decode_attention_workspace_bytes(int64_t num_tokens, int64_t num_heads, int64_t num_kv_heads,
                                        int64_t head_dim, int num_splits) {
  return counter_bytes(num_tokens, num_kv_heads) +
         static_cast<size_t>(num_tokens * num_heads * num_splits * (head_dim + 1)) * sizeof(float);
}

void clear_decode_attention_workspace(cudaStream_t stream, void* workspace,
                                      size_t workspace_bytes) {
  CUDA_CHECK(cudaMemsetAsync(workspace, 0, workspace_bytes, stream));
}

namespace split_kv {
namespace {

template <typename TCache, typename... Rope>
void run_decode_attention(cudaStream_t stream,
                          const PagedAttentionArgsT<__nv_bfloat16, TCache>& args, int num_splits,
                          void* workspace, size_t workspace_bytes, const Rope&... rope) {
  check_paged_attention_args(args, "decode_attention");
  SWIFTKV_CHECK(args.num_heads / args.num_kv_heads <= kMaxGroup, "decode_attention: at most ",
                kMaxGroup, " query heads per kv head, got ", args.num_heads / args.num_kv_heads);
  SWIFTKV_CHECK(num_splits >= 1 && num_splits <= kMaxSplits, "decode_attention: num_splits ",
                num_splits, " outside [1, ", kMaxSplits, "]");
  const size_t needed = decode_attention_workspace_bytes(
      args.num_tokens, args.num_heads, args.num_kv_heads, args.head_dim, num_splits);
  SWIFTKV_CHECK(workspace_bytes >= needed && reinterpret_cast<uintptr_t>(workspace) % 16 == 0,
                "decode_attention: workspace of ", workspace_bytes, " bytes at ", workspace,
                ", need ", needed, " bytes, 16-byte aligned");
  if (args.num_tokens == 0 || args.num_seqs == 0) {
    return;
  }
  SWIFTKV_CHECK(args.num_kv_heads <= 65535, "decode_attention: too many kv heads");
  const int64_t q_stride = args.q_stride == 0 ? args.num_heads * args.head_dim : args.q_stride;
  SWIFTKV_CHECK(fits_in_int32({q_stride, args.num_seqs, args.num_heads, args.max_blocks_per_seq,
                               args.block_size}),
                "decode_attention: a stride or count beyond 32 bits");
  const KernelArgs<TCache> kernel_args{
      .out = args.out,
      .q = args.q,
      .k_cache = args.k_cache,
      .v_cache = args.v_cache,
      .query_start_loc = args.query_start_loc,
      .kv_lens = args.kv_lens,
      .block_tables = args.block_tables,
      .partial_out = reinterpret_cast<float*>(static_cast<char*>(workspace) +
                                              counter_bytes(args.num_tokens, args.num_kv_heads)),
      .splits_done = static_cast<int*>(workspace),
      .q_stride = static_cast<int32_t>(q_stride),
      .num_seqs = static_cast<int32_t>(args.num_seqs),
      .num_heads = static_cast<int32_t>(args.num_heads),
      .max_blocks_per_seq = static_cast<int32_t>(args.max_blocks_per_seq),
      .scale = args.scale,
      .block_size = FastDivmod(static_cast<int>(args.block_size))};
  static_assert(sizeof(KernelArgs<TCache>) + (sizeof(Rope) + ... + 0) <=
                kMaxStepKernelParameterBytes);
  if (args.head_dim == 64) {
    launch<64>(stream, args, num_splits, kernel_args, rope...);
  } else {
    launch<128>(stream, args, num_splits, kernel_args, rope...);
  }
}

}  // namespace
}  // namespace split_kv

void decode_attention_bf16(cudaStream_t stream, const PagedAttentionArgs& args, int num_splits,
                           void* workspace, size_t workspace_bytes) {
  split_kv::run_decode_attention(stream, args, num_splits, workspace, workspace_bytes);
}

void decode_attention_bf16(cudaStream_t stream, const PagedAttentionArgsFp8& args, int num_splits,
                           void* workspace, size_t workspace_bytes) {
  split_kv::run_decode_attention(stream, args, num_splits, workspace, workspace_bytes);
}

void decode_attention_rope_bf16(cudaStream_t stream, const PagedAttentionArgs& args,
                                const DecodeRope& rope, int num_splits, void* workspace,
                                size_t workspace_bytes) {
  SWIFTKV_CHECK(args.num_tokens == 1, "decode_attention_rope: one query row, got ",
                args.num_tokens);
  SWIFTKV_CHECK(rope.positions != nullptr && rope.inv_freq != nullptr &&
                    reinterpret_cast<uintptr_t>(rope.inv_freq) % 16 == 0,
                "decode_attention_rope: positions and a 16-byte aligned inv_freq are required");
  const int64_t q_stride = args.q_stride == 0 ? args.num_heads * args.head_dim : args.q_stride;
  const int64_t kv_width = args.num_kv_heads * args.head_dim;
  SWIFTKV_CHECK(
      rope.kv_column < 0 || (rope.kv_column >= args.num_heads * args.head_dim &&
                             rope.kv_column % 8 == 0 && rope.kv_column + 2 * kv_width <= q_stride),
      "decode_attention_rope: k and v at column ", rope.kv_column, " do not fit a row of ",
      q_stride, " after q");
  split_kv::run_decode_attention(
      stream, args, num_splits, workspace, workspace_bytes,
      split_kv::RopeKernelArgs{
          .positions = rope.positions,
          .inv_freq = rope.inv_freq,
          .kv_column = static_cast<int32_t>(rope.kv_column < 0 ? -1 : rope.kv_column)});
}

}  // namespace swiftkv::cuda
