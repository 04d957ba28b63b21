#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/decode_attention.h"

namespace swiftkv::cuda {
namespace {

using attention::cache_row_offset;
using attention::cp_async_16;
using attention::cp_async_commit;
using attention::cp_async_wait;
using attention::FastDivmod;
using attention::ldmatrix_x4;
using attention::ldmatrix_x4_trans;
using attention::mma_bf16;
using attention::pack_bf16;
using attention::tile_offset;

constexpr int kThreads = 128;
constexpr int kWarps = 4;
constexpr int kTileKeys = 64;  // cache positions per pipeline stage (16 per warp)
constexpr int kStages = 3;
constexpr int kMinChunk = 64;  // fewest positions per split
constexpr int kMaxSplits = 64;
constexpr int kMaxGroup = 16;  // query heads per kv head: one 16-row MMA tile
constexpr unsigned kFullMask = 0xffffffffU;

// Shared memory of one block, in bytes: the query tile (bf16) and kStages K and V stages of the
// cache (TCache): a bf16 stage is the swizzled MMA tile itself, an e4m3 stage the raw bytes in
// the swizzled e4m3 layout, whose ldmatrix fragments are converted to bf16 in registers.
template <int kHeadDim, typename TCache>
struct SharedLayout {
  static constexpr bool kE4M3 = attention::kIsE4M3<TCache>;
  static constexpr int kQBytes = kMaxGroup * kHeadDim * 2;
  static constexpr int kStageBytes = kTileKeys * kHeadDim * static_cast<int>(sizeof(TCache));
  static constexpr int kBytes = kQBytes + 2 * kStages * kStageBytes;
  static constexpr int kCacheChunks = kHeadDim * static_cast<int>(sizeof(TCache)) / 16;  // per row
  // Blocks per SM the registers are budgeted for: an e4m3 block needs half the shared memory
  // (52 KiB at head_dim 128), so three fit where two bf16 blocks do (168 registers per thread).
  static constexpr int kMinBlocks = kE4M3 ? 3 : 2;
};

struct SeqInfo {
  int seq;  // -1: a padding row past query_start_loc[num_seqs]
  int q_start;
  int q_end;
  int kv_len;
};

// The sequence owning query row `token` and its metadata. Decode batches have token ==
// sequence: that guess is loaded together with its kv_len (one memory round trip); otherwise
// a warp scans 32 sequences at a time.
__device__ SeqInfo find_seq(const int32_t* query_start_loc, const int32_t* kv_lens, int num_seqs,
                            int token) {
  const int guess = min(token, num_seqs - 1);
  const int guess_start = query_start_loc[guess];
  const int guess_end = query_start_loc[guess + 1];
  const int guess_kv_len = kv_lens[guess];
  if (guess_start <= token && token < guess_end) {
    return {guess, guess_start, guess_end, guess_kv_len};
  }
  const int lane = static_cast<int>(threadIdx.x % 32);
  for (int s0 = 0; s0 < num_seqs; s0 += 32) {
    const int s = s0 + lane;
    const bool mine = s < num_seqs && query_start_loc[s] <= token && token < query_start_loc[s + 1];
    const unsigned owners = __ballot_sync(kFullMask, mine);
    if (owners != 0) {
      const int seq = s0 + __ffs(static_cast<int>(owners)) - 1;
      return {seq, query_start_loc[seq], query_start_loc[seq + 1], kv_lens[seq]};
    }
  }
  return {-1, 0, 0, 0};
}

// Positions per split for a row that sees `visible` positions.
__device__ __forceinline__ int split_chunk(int visible, int num_splits) {
  const int even = (visible + num_splits - 1) / num_splits;
  return max(kMinChunk, (even + kTileKeys - 1) / kTileKeys * kTileKeys);
}

template <int kHeadDim, typename TCache>
__global__ void __launch_bounds__(kThreads, (SharedLayout<kHeadDim, TCache>::kMinBlocks))
    decode_attention_kernel(PagedAttentionArgsT<__nv_bfloat16, TCache> args, int64_t q_stride,
                            FastDivmod block_divmod, int num_splits, float* partial_out,
                            float* partial_lse) {
  using Layout = SharedLayout<kHeadDim, TCache>;
  constexpr bool kE4M3 = Layout::kE4M3;
  constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks of a bf16 row
  constexpr int kCacheChunks = Layout::kCacheChunks;
  constexpr int kKSteps = kHeadDim / 16;
  constexpr int kDimTiles = kHeadDim / 8;
  extern __shared__ __align__(128) unsigned char shared_raw[];
  auto* q_tile = reinterpret_cast<__nv_bfloat16*>(shared_raw);
  unsigned char* k_stages = shared_raw + Layout::kQBytes;  // [kStages][kStageBytes]
  unsigned char* v_stages = k_stages + kStages * Layout::kStageBytes;

  const int token = static_cast<int>(blockIdx.x);
  const int kv_head = static_cast<int>(blockIdx.y);
  const int split = static_cast<int>(blockIdx.z);
  // Let the combine kernel (launched with programmatic stream serialization) be scheduled as
  // soon as every block of this grid has started; it waits for this grid's completion itself.
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
  const SeqInfo info =
      find_seq(args.query_start_loc, args.kv_lens, static_cast<int>(args.num_seqs), token);
  const int seq = info.seq;
  if (seq < 0) {
    return;
  }
  const int num_heads = static_cast<int>(args.num_heads);
  const int num_kv_heads = static_cast<int>(args.num_kv_heads);
  const int group = num_heads / num_kv_heads;
  const int q_start = info.q_start;
  const int q_len = info.q_end - q_start;
  const int kv_len = info.kv_len;
  const int visible = kv_len - q_len + (token - q_start) + 1;
  const int chunk = split_chunk(visible, num_splits);
  const int active_splits = (visible + chunk - 1) / chunk;
  const int tid = static_cast<int>(threadIdx.x);
  const int64_t lse_base = (static_cast<int64_t>(token) * num_heads + kv_head * group) * num_splits;
  if (split >= active_splits) {
    if (tid < group) {
      partial_lse[lse_base + static_cast<int64_t>(tid) * num_splits + split] = -INFINITY;
    }
    return;
  }
  const int key_begin = split * chunk;
  const int key_end = min(visible, key_begin + chunk);
  const int num_tiles = (key_end - key_begin + kTileKeys - 1) / kTileKeys;
  const int32_t* block_table = args.block_tables + seq * args.max_blocks_per_seq;

  for (int c = tid; c < kMaxGroup * kChunks; c += kThreads) {
    const int row = c / kChunks;
    const int chunk_index = c % kChunks;
    const bool valid = row < group;
    const int64_t offset =
        valid ? token * q_stride + (kv_head * group + row) * kHeadDim + chunk_index * 8 : 0;
    cp_async_16(q_tile + tile_offset<kHeadDim>(row, chunk_index), args.q + offset, valid);
  }
  auto load_kv = [&](int tile, int stage) {
    const int n0 = key_begin + tile * kTileKeys;
    for (int c = tid; c < kTileKeys * kCacheChunks; c += kThreads) {
      const int row = c / kCacheChunks;
      const int chunk_index = c % kCacheChunks;
      const bool valid = n0 + row < key_end;
      const int64_t offset = valid ? cache_row_offset(block_table, n0 + row, block_divmod,
                                                      num_kv_heads, kv_head, kHeadDim) +
                                         chunk_index * (16 / static_cast<int>(sizeof(TCache)))
                                   : 0;
      const int destination = stage * Layout::kStageBytes +
                              (kE4M3 ? attention::e4m3_tile_offset<kHeadDim>(row, chunk_index)
                                     : 2 * tile_offset<kHeadDim>(row, chunk_index));
      cp_async_16(k_stages + destination, args.k_cache + offset, valid);
      cp_async_16(v_stages + destination, args.v_cache + offset, valid);
    }
  };
  load_kv(0, 0);
  cp_async_commit();
  if (num_tiles > 1) {
    load_kv(1, 1);
  }
  cp_async_commit();

  const float scale_log2 = args.scale * 1.44269504088896340736F;
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

  for (int tile = 0; tile < num_tiles; ++tile) {
    if (tile + 2 < num_tiles) {
      load_kv(tile + 2, (tile + 2) % kStages);
    }
    cp_async_commit();
    cp_async_wait<2>();
    __syncthreads();
    if (tile == 0) {
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
        if constexpr (kE4M3) {
          // The k index of the MMA permuted within each 16-dim step to match the directly
          // converted K fragments: k = 2t, 2t + 1 are dims 4t, 4t + 2; k = 2t + 8, 2t + 9 are
          // dims 4t + 1, 4t + 3.
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            const uint2 dims = *reinterpret_cast<const uint2*>(
                q_tile + tile_offset<kHeadDim>(g + 8 * r, 2 * ks + t / 2) + 4 * (t % 2));
            q_fragments[ks][r] = __byte_perm(dims.x, dims.y, 0x5410);
            q_fragments[ks][r + 2] = __byte_perm(dims.x, dims.y, 0x7632);
          }
        } else {
          ldmatrix_x4(
              q_fragments[ks],
              q_tile + tile_offset<kHeadDim>(lane % 8 + ((lane / 8) % 2) * 8, ks * 2 + lane / 16));
        }
      }
    }
    const int n0 = key_begin + tile * kTileKeys + warp * 16;
    if (n0 < key_end) {
      const int stage = tile % kStages;
      const unsigned char* k_stage = k_stages + stage * Layout::kStageBytes;
      const unsigned char* v_stage = v_stages + stage * Layout::kStageBytes;
      const auto* k_tile = reinterpret_cast<const __nv_bfloat16*>(k_stage);  // bf16 only
      const auto* v_tile = reinterpret_cast<const __nv_bfloat16*>(v_stage);
      // e4m3: this lane's row address in an x4 ldmatrix of the raw stage (matrices: keys 0-7
      // and 8-15 of the warp's 16, then the same for the next 16-byte chunk).
      const int e4m3_row = warp * 16 + lane % 8 + ((lane / 8) % 2) * 8;
      float s[2][4] = {};
      if constexpr (kE4M3) {
        // Each 8x8 b16 matrix is 8 keys x 16 e4m3 dims; a lane's word holds dims 4t..4t+3 of
        // key g: even pair (4t, 4t+2) = b0, odd pair (4t+1, 4t+3) = b1 (q permuted to match).
#pragma unroll
        for (int ks = 0; ks < kKSteps; ks += 2) {
          uint32_t raw[4];
          ldmatrix_x4(raw,
                      k_stage + attention::e4m3_tile_offset<kHeadDim>(e4m3_row, ks + lane / 16));
#pragma unroll
          for (int m = 0; m < 4; ++m) {
            uint32_t even = 0;
            uint32_t odd = 0;
            attention::e4m3x4_to_bf16_pairs(raw[m], even, odd);
            mma_bf16(s[m % 2], q_fragments[ks + m / 2], even, odd);
          }
        }
      } else {
#pragma unroll
        for (int ks = 0; ks < kKSteps; ++ks) {
          uint32_t b[4];
          ldmatrix_x4(b, k_tile + tile_offset<kHeadDim>(warp * 16 + lane % 8 + (lane / 16) * 8,
                                                        ks * 2 + (lane / 8) % 2));
          mma_bf16(s[0], q_fragments[ks], b[0], b[1]);
          mma_bf16(s[1], q_fragments[ks], b[2], b[3]);
        }
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = n0 + j * 8 + 2 * t + (e & 1);
          s[j][e] = key < key_end ? s[j][e] * scale_log2 : -INFINITY;
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
      if constexpr (kE4M3) {
        // Transposed 8x8 b16 matrices of 8 keys x 16 e4m3 dims: a lane's word holds keys 2t,
        // 2t + 1 at dims 2g, 2g + 1 of the 16; its even pair is the B fragment of output dim 2g,
        // its odd pair that of 2g + 1: o[2c] holds dims 16c + 2n, o[2c + 1] dims 16c + 2n + 1.
#pragma unroll
        for (int c = 0; c < kHeadDim / 16; c += 2) {
          uint32_t raw[4];
          ldmatrix_x4_trans(
              raw, v_stage + attention::e4m3_tile_offset<kHeadDim>(e4m3_row, c + lane / 16));
#pragma unroll
          for (int m = 0; m < 4; m += 2) {
            uint32_t even_lo = 0;
            uint32_t odd_lo = 0;
            uint32_t even_hi = 0;
            uint32_t odd_hi = 0;
            attention::e4m3x4_to_bf16_pairs(raw[m], even_lo, odd_lo);
            attention::e4m3x4_to_bf16_pairs(raw[m + 1], even_hi, odd_hi);
            mma_bf16(o[2 * (c + m / 2)], a, even_lo, even_hi);
            mma_bf16(o[2 * (c + m / 2) + 1], a, odd_lo, odd_hi);
          }
        }
      } else {
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
    }
    __syncthreads();
  }
  cp_async_wait<0>();  // only empty groups remain; drain before reusing shared memory
  __syncthreads();

  // Combine the four warps' partial softmax states through shared memory (reusing the tiles).
  auto* warp_out = reinterpret_cast<float*>(k_stages);         // [kWarps][kMaxGroup][kHeadDim]
  float* warp_max = warp_out + kWarps * kMaxGroup * kHeadDim;  // [kWarps][kMaxGroup]
  float* warp_sum = warp_max + kWarps * kMaxGroup;             // [kWarps][kMaxGroup]
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = g + 8 * r;
    const float total = attention::warp_sum_quad(row_sum[r]);
    float* out_row = warp_out + (warp * kMaxGroup + row) * kHeadDim;
#pragma unroll
    for (int d = 0; d < kDimTiles; ++d) {
      if constexpr (kE4M3) {  // tile d: dims 16 (d / 2) + 2n + d % 2, n = 2t, 2t + 1
        out_row[(d / 2) * 16 + 4 * t + d % 2] = o[d][2 * r];
        out_row[(d / 2) * 16 + 4 * t + 2 + d % 2] = o[d][2 * r + 1];
      } else {
        out_row[d * 8 + 2 * t] = o[d][2 * r];
        out_row[d * 8 + 2 * t + 1] = o[d][2 * r + 1];
      }
    }
    if (t == 0) {
      warp_max[warp * kMaxGroup + row] = row_max[r];
      warp_sum[warp * kMaxGroup + row] = total;
    }
  }
  __syncthreads();
  for (int e = tid; e < group * kHeadDim; e += kThreads) {
    const int row = e / kHeadDim;
    const int d = e % kHeadDim;
    float max_all = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      max_all = fmaxf(max_all, warp_max[w * kMaxGroup + row]);
    }
    float sum = 0.0F;
    float value = 0.0F;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float m = warp_max[w * kMaxGroup + row];
      if (m != -INFINITY) {  // a warp that saw no positions contributes nothing
        const float weight = exp2f(m - max_all);
        sum += warp_sum[w * kMaxGroup + row] * weight;
        value += warp_out[(w * kMaxGroup + row) * kHeadDim + d] * weight;
      }
    }
    const int64_t index = lse_base + static_cast<int64_t>(row) * num_splits + split;
    partial_out[index * kHeadDim + d] = value / sum;
    if (d == 0) {
      partial_lse[index] = max_all + log2f(sum);
    }
  }
}

// out[token, head] = sum over splits of 2^(lse_s - lse_max) · partial_s / sum of the weights.
// One warp per (query row, head).
template <int kHeadDim, typename TCache>
__global__ void __launch_bounds__(kThreads)
    decode_combine_kernel(PagedAttentionArgsT<__nv_bfloat16, TCache> args, int num_splits,
                          const float* partial_out, const float* partial_lse) {
  constexpr int kPerLane = kHeadDim / 32;
  __shared__ float weights[kWarps][kMaxSplits];
  const int token = static_cast<int>(blockIdx.x);
  const int warp = static_cast<int>(threadIdx.x / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int head = static_cast<int>(blockIdx.y) * kWarps + warp;
  if (head >= args.num_heads || token >= args.query_start_loc[args.num_seqs]) {
    return;
  }
  // Programmatic dependent launch: wait until the split kernel has finished and its partial
  // results are visible (a no-op when launched without the attribute).
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
  const int64_t base = (static_cast<int64_t>(token) * args.num_heads + head) * num_splits;
  float max_lse = -INFINITY;
  for (int s = lane; s < num_splits; s += 32) {
    max_lse = fmaxf(max_lse, partial_lse[base + s]);
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    max_lse = fmaxf(max_lse, __shfl_xor_sync(kFullMask, max_lse, offset));
  }
  float total = 0.0F;
  for (int s = lane; s < num_splits; s += 32) {
    const float lse = partial_lse[base + s];
    const float weight = lse == -INFINITY ? 0.0F : exp2f(lse - max_lse);
    weights[warp][s] = weight;
    total += weight;
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    total += __shfl_xor_sync(kFullMask, total, offset);
  }
  __syncwarp();
  float accumulator[kPerLane] = {};
  for (int s = 0; s < num_splits; ++s) {
    const float weight = weights[warp][s];
    if (weight != 0.0F) {
      const float* partial = partial_out + (base + s) * kHeadDim + lane * kPerLane;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        accumulator[i] += weight * partial[i];
      }
    }
  }
  __nv_bfloat16* out =
      args.out + (static_cast<int64_t>(token) * args.num_heads + head) * kHeadDim + lane * kPerLane;
#pragma unroll
  for (int i = 0; i < kPerLane; i += 2) {
    *reinterpret_cast<uint32_t*>(out + i) =
        pack_bf16(accumulator[i] / total, accumulator[i + 1] / total);
  }
}

template <int kHeadDim, typename TCache>
void launch(cudaStream_t stream, const PagedAttentionArgsT<__nv_bfloat16, TCache>& args,
            int64_t q_stride, int num_splits, float* partial_out, float* partial_lse) {
  using Layout = SharedLayout<kHeadDim, TCache>;
  constexpr int kShared = Layout::kBytes;
  static_assert(kShared - Layout::kQBytes >= (kWarps * kMaxGroup * (kHeadDim + 2)) * 4,
                "the warp combine reuses the K/V stages");
  static const bool configured = [] {  // once per process (one device)
    CUDA_CHECK(cudaFuncSetAttribute(decode_attention_kernel<kHeadDim, TCache>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
    return true;
  }();
  (void)configured;
  const dim3 grid(static_cast<unsigned>(args.num_tokens), static_cast<unsigned>(args.num_kv_heads),
                  static_cast<unsigned>(num_splits));
  decode_attention_kernel<kHeadDim, TCache><<<grid, kThreads, kShared, stream>>>(
      args, q_stride, FastDivmod(static_cast<int>(args.block_size)), num_splits, partial_out,
      partial_lse);
  CUDA_CHECK_LAUNCH();
  const dim3 combine_grid(static_cast<unsigned>(args.num_tokens),
                          static_cast<unsigned>((args.num_heads + kWarps - 1) / kWarps));
  // Programmatic dependent launch hides the combine kernel's launch latency behind the tail of
  // the split kernel (it matters at small batches, where the whole call takes microseconds).
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = combine_grid;
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = 0;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  CUDA_CHECK(cudaLaunchKernelEx(&config, decode_combine_kernel<kHeadDim, TCache>, args, num_splits,
                                static_cast<const float*>(partial_out),
                                static_cast<const float*>(partial_lse)));
}

}  // namespace

int decode_attention_num_splits(int64_t num_tokens, int64_t num_kv_heads) {
  static const int num_sms = [] {
    int device = 0;
    int count = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
    return count;
  }();
  const int64_t rows = std::max<int64_t>(1, num_tokens * num_kv_heads);
  const int64_t splits = (4 * int64_t{num_sms} + rows - 1) / rows;
  return static_cast<int>(std::clamp<int64_t>(splits, 1, kMaxSplits));
}

size_t decode_attention_workspace_bytes(int64_t num_tokens, int64_t num_heads, int64_t head_dim,
                                        int num_splits) {
  return static_cast<size_t>(num_tokens * num_heads * num_splits * (head_dim + 1)) * sizeof(float);
}

namespace {

template <typename TCache>
void run_decode_attention(cudaStream_t stream,
                          const PagedAttentionArgsT<__nv_bfloat16, TCache>& args, int num_splits,
                          void* workspace, size_t workspace_bytes) {
  check_paged_attention_args(args, "decode_attention");
  SWIFTKV_CHECK(args.num_heads / args.num_kv_heads <= kMaxGroup, "decode_attention: at most ",
                kMaxGroup, " query heads per kv head, got ", args.num_heads / args.num_kv_heads);
  SWIFTKV_CHECK(num_splits >= 1 && num_splits <= kMaxSplits, "decode_attention: num_splits ",
                num_splits, " outside [1, ", kMaxSplits, "]");
  const size_t needed =
      decode_attention_workspace_bytes(args.num_tokens, args.num_heads, args.head_dim, num_splits);
  SWIFTKV_CHECK(workspace_bytes >= needed && reinterpret_cast<uintptr_t>(workspace) % 16 == 0,
                "decode_attention: workspace of ", workspace_bytes, " bytes at ", workspace,
                ", need ", needed, " bytes, 16-byte aligned");
  if (args.num_tokens == 0 || args.num_seqs == 0) {
    return;
  }
  SWIFTKV_CHECK(args.num_kv_heads <= 65535, "decode_attention: too many kv heads");
  const int64_t q_stride = args.q_stride == 0 ? args.num_heads * args.head_dim : args.q_stride;
  auto* partial_out = static_cast<float*>(workspace);
  float* partial_lse = partial_out + args.num_tokens * args.num_heads * num_splits * args.head_dim;
  if (args.head_dim == 64) {
    launch<64>(stream, args, q_stride, num_splits, partial_out, partial_lse);
  } else {
    launch<128>(stream, args, q_stride, num_splits, partial_out, partial_lse);
  }
}

}  // namespace

void decode_attention_bf16(cudaStream_t stream, const PagedAttentionArgs& args, int num_splits,
                           void* workspace, size_t workspace_bytes) {
  run_decode_attention(stream, args, num_splits, workspace, workspace_bytes);
}

void decode_attention_bf16(cudaStream_t stream, const PagedAttentionArgsFp8& args, int num_splits,
                           void* workspace, size_t workspace_bytes) {
  run_decode_attention(stream, args, num_splits, workspace, workspace_bytes);
}

}  // namespace swiftkv::cuda
