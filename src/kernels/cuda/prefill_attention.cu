#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/prefill_attention.h"

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

// 16 query rows per warp. Every warp of a block reads the same K/V tiles, and at head_dim 128
// (237 registers: 8 warps per SM either way) one block of 8 warps beat two blocks of 4 on the
// H200 (4 x 2048 causal: 178 -> 191 TFLOP/s, 1 x 8192: 195 -> 216); at head_dim 64 it lost
// (159 -> 137: fewer registers, so 4-warp blocks fit more than 8 warps per SM).
template <int kHeadDim>
constexpr int kWarpsFor = kHeadDim == 128 ? 8 : 4;
template <int kHeadDim>
constexpr int kBlockMFor = 16 * kWarpsFor<kHeadDim>;  // query rows per block
template <int kHeadDim>
constexpr int kThreadsFor = 32 * kWarpsFor<kHeadDim>;
constexpr int kBlockN = 64;  // cache positions per K/V tile
constexpr unsigned kFullMask = 0xffffffffU;

// Shared memory of one block, in bytes: the query tile (bf16), two K and two V stages of the
// cache (TCache; a bf16 stage is already the swizzled MMA tile), and for an e4m3 cache one bf16
// K and V tile the block converts the current stage into.
template <int kHeadDim, typename TCache>
struct SharedLayout {
  static constexpr bool kE4M3 = attention::kIsE4M3<TCache>;
  static constexpr int kQBytes = kBlockMFor<kHeadDim> * kHeadDim * 2;
  static constexpr int kStageBytes = kBlockN * kHeadDim * static_cast<int>(sizeof(TCache));
  static constexpr int kConvertedBytes = kE4M3 ? 2 * kBlockN * kHeadDim * 2 : 0;
  static constexpr int kBytes = kQBytes + 2 * 2 * kStageBytes + kConvertedBytes;
  static constexpr int kCacheChunks = kHeadDim * static_cast<int>(sizeof(TCache)) / 16;  // per row
};

struct TileLocation {
  int seq;
  int m_block;
  bool found;
};

// The sequence and query tile of linear tile index `tile`. Sequence s owns ceil(q_len / kBlockM)
// consecutive indices; within a sequence the last tile (the most keys under the causal mask)
// comes first. Each warp scans 32 sequences per step with a shuffle prefix sum.
template <int kBlockM>
__device__ TileLocation find_tile(const int32_t* query_start_loc, int num_seqs, int tile) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  int base = 0;
  for (int s0 = 0; s0 < num_seqs; s0 += 32) {
    const int s = s0 + lane;
    const int tiles =
        s < num_seqs ? (query_start_loc[s + 1] - query_start_loc[s] + kBlockM - 1) / kBlockM : 0;
    int inclusive = tiles;
    for (int offset = 1; offset < 32; offset *= 2) {
      const int other = __shfl_up_sync(kFullMask, inclusive, offset);
      if (lane >= offset) {
        inclusive += other;
      }
    }
    const bool mine = tile >= base + inclusive - tiles && tile < base + inclusive;
    const unsigned owners = __ballot_sync(kFullMask, mine);
    if (owners != 0) {
      const int owner = __ffs(static_cast<int>(owners)) - 1;
      const int owner_inclusive = __shfl_sync(kFullMask, inclusive, owner);
      const int owner_tiles = __shfl_sync(kFullMask, tiles, owner);
      const int index = tile - (base + owner_inclusive - owner_tiles);
      return {s0 + owner, owner_tiles - 1 - index, true};
    }
    base += __shfl_sync(kFullMask, inclusive, 31);
  }
  return {0, 0, false};
}

template <int kHeadDim, typename TCache>
__global__ void __launch_bounds__(kThreadsFor<kHeadDim>, 8 / kWarpsFor<kHeadDim>)
    prefill_attention_kernel(PagedAttentionArgsT<__nv_bfloat16, TCache> args, int64_t q_stride,
                             FastDivmod block_divmod) {
  constexpr int kBlockM = kBlockMFor<kHeadDim>;
  constexpr int kThreads = kThreadsFor<kHeadDim>;
  using Layout = SharedLayout<kHeadDim, TCache>;
  constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks per bf16 row
  constexpr int kCacheChunks = Layout::kCacheChunks;
  constexpr int kKSteps = kHeadDim / 16;   // k-steps of QKᵀ
  constexpr int kDimTiles = kHeadDim / 8;  // n-tiles of the output
  constexpr int kKeyTiles = kBlockN / 8;   // n-tiles of S
  extern __shared__ __align__(128) unsigned char shared_raw[];
  auto* q_tile = reinterpret_cast<__nv_bfloat16*>(shared_raw);
  unsigned char* k_stages = shared_raw + Layout::kQBytes;  // [2][kStageBytes]
  unsigned char* v_stages = k_stages + 2 * Layout::kStageBytes;
  // e4m3 only: [kBlockN * kHeadDim] bf16 each, converted from the current stage.
  auto* k_converted = reinterpret_cast<__nv_bfloat16*>(v_stages + 2 * Layout::kStageBytes);
  __nv_bfloat16* v_converted = k_converted + kBlockN * kHeadDim;

  const int num_seqs = static_cast<int>(args.num_seqs);
  const TileLocation location =
      find_tile<kBlockM>(args.query_start_loc, num_seqs, static_cast<int>(blockIdx.y));
  if (!location.found) {
    return;  // more blocks than tiles: the grid is sized from num_tokens, not the metadata
  }
  const int seq = location.seq;
  const int head = static_cast<int>(blockIdx.x);
  const int num_heads = static_cast<int>(args.num_heads);
  const int num_kv_heads = static_cast<int>(args.num_kv_heads);
  const int kv_head = head / (num_heads / num_kv_heads);
  const int q_start = args.query_start_loc[seq];
  const int q_len = args.query_start_loc[seq + 1] - q_start;
  const int kv_len = args.kv_lens[seq];
  const int causal_offset = kv_len - q_len;
  const int m0 = location.m_block * kBlockM;
  const int rows_in_tile = min(kBlockM, q_len - m0);
  // Cache positions [0, key_end) are visible to at least one row of the tile.
  const int key_end = min(kv_len, causal_offset + m0 + rows_in_tile);
  const int num_key_blocks = (key_end + kBlockN - 1) / kBlockN;
  const int32_t* block_table = args.block_tables + seq * args.max_blocks_per_seq;

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const int lane = tid % 32;

  for (int c = tid; c < kBlockM * kChunks; c += kThreads) {
    const int row = c / kChunks;
    const int chunk = c % kChunks;
    const bool valid = row < rows_in_tile;
    const int64_t offset =
        valid ? (q_start + m0 + row) * q_stride + head * kHeadDim + chunk * 8 : 0;
    cp_async_16(q_tile + tile_offset<kHeadDim>(row, chunk), args.q + offset, valid);
  }
  // A bf16 stage is the swizzled MMA tile itself; an e4m3 stage is row-major raw bytes.
  // The block-table reads of all the thread's rows come first (clamped_tile_offsets), so they
  // are in flight together: a read between two copies is waited for before the next.
  constexpr int kLoadsPerThread = kBlockN * kCacheChunks / kThreads;
  static_assert(kBlockN * kCacheChunks % kThreads == 0);
  auto load_kv = [&](int key_block, int stage) {
    const int n0 = key_block * kBlockN;
    int64_t offsets[kLoadsPerThread];
    attention::clamped_tile_offsets<kLoadsPerThread, kThreads, kCacheChunks, 16 / sizeof(TCache)>(
        offsets, n0, key_end - 1, [&](int position) {
          return cache_row_offset(block_table, position, block_divmod, num_kv_heads, kv_head,
                                  kHeadDim);
        });
#pragma unroll
    for (int i = 0; i < kLoadsPerThread; ++i) {
      const int c = tid + i * kThreads;
      const int row = c / kCacheChunks;
      const int chunk = c % kCacheChunks;
      const bool valid = n0 + row < key_end;
      const int64_t offset = valid ? offsets[i] : 0;
      const int destination =
          stage * Layout::kStageBytes +
          (Layout::kE4M3 ? row * kHeadDim + chunk * 16 : 2 * tile_offset<kHeadDim>(row, chunk));
      cp_async_16(k_stages + destination, args.k_cache + offset, valid);
      cp_async_16(v_stages + destination, args.v_cache + offset, valid);
    }
  };
  load_kv(0, 0);
  cp_async_commit();

  const float scale_log2 = args.scale * 1.44269504088896340736F;
  const int g = lane / 4;
  const int t = lane % 4;
  const int warp_row0 = warp * 16;
  const int position_a = causal_offset + m0 + warp_row0 + g;  // rows g and g + 8 of the warp
  const int warp_rows = min(16, rows_in_tile - warp_row0);    // may be <= 0
  const int warp_last_position = causal_offset + m0 + warp_row0 + warp_rows - 1;

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

  for (int kb = 0; kb < num_key_blocks; ++kb) {
    if (kb + 1 < num_key_blocks) {
      load_kv(kb + 1, (kb + 1) & 1);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const __nv_bfloat16* k_tile =
        reinterpret_cast<const __nv_bfloat16*>(k_stages + (kb & 1) * Layout::kStageBytes);
    const __nv_bfloat16* v_tile =
        reinterpret_cast<const __nv_bfloat16*>(v_stages + (kb & 1) * Layout::kStageBytes);
    if constexpr (Layout::kE4M3) {
      // Every warp reads every row of the tile: the whole block converts, then syncs.
      for (int c = tid; c < kBlockN * kCacheChunks; c += kThreads) {
        const int row = c / kCacheChunks;
        const int chunk = c % kCacheChunks;
        const int source = (kb & 1) * Layout::kStageBytes + row * kHeadDim + chunk * 16;
        attention::convert_e4m3_chunk<kHeadDim>(k_stages + source, k_converted, row, chunk);
        attention::convert_e4m3_chunk<kHeadDim>(v_stages + source, v_converted, row, chunk);
      }
      __syncthreads();
      k_tile = k_converted;
      v_tile = v_converted;
    }
    if (kb == 0) {
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
        ldmatrix_x4(q_fragments[ks],
                    q_tile + tile_offset<kHeadDim>(warp_row0 + lane % 8 + ((lane / 8) % 2) * 8,
                                                   ks * 2 + lane / 16));
      }
    }
    const int n0 = kb * kBlockN;
    if (warp_rows > 0 && n0 <= warp_last_position) {
      float s[kKeyTiles][4];
#pragma unroll
      for (int j = 0; j < kKeyTiles; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[j][e] = 0.0F;
        }
      }
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
#pragma unroll
        for (int jp = 0; jp < kKeyTiles / 2; ++jp) {
          uint32_t b[4];
          ldmatrix_x4(b, k_tile + tile_offset<kHeadDim>(jp * 16 + lane % 8 + (lane / 16) * 8,
                                                        ks * 2 + (lane / 8) % 2));
          mma_bf16(s[2 * jp], q_fragments[ks], b[0], b[1]);
          mma_bf16(s[2 * jp + 1], q_fragments[ks], b[2], b[3]);
        }
      }
      if (n0 + kBlockN - 1 > causal_offset + m0 + warp_row0 || n0 + kBlockN > kv_len) {
        // Only tiles on the diagonal or past the cache's end mask (a warp-uniform branch).
#pragma unroll
        for (int j = 0; j < kKeyTiles; ++j) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int key = n0 + j * 8 + 2 * t + (e & 1);
            const int position = e < 2 ? position_a : position_a + 8;
            if (key > position || key >= kv_len) {
              s[j][e] = -INFINITY;
            }
          }
        }
      }
      // The running maximum is kept on raw scores (the scale is positive), so the scale folds
      // into the exponent's FMA.
      float correction[2];
      bool moved = false;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < kKeyTiles; ++j) {
          tile_max = fmaxf(tile_max, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
        }
        tile_max = attention::warp_max_quad(tile_max);
        const float new_max = fmaxf(row_max[r], tile_max);
        const float base = new_max == -INFINITY ? 0.0F : new_max * scale_log2;
        const bool row_moved = new_max != row_max[r];
        correction[r] = row_moved ? exp2f(row_max[r] * scale_log2 - base) : 1.0F;
        moved = moved || row_moved;
        row_max[r] = new_max;
        row_sum[r] *= correction[r];
#pragma unroll
        for (int j = 0; j < kKeyTiles; ++j) {
          s[j][2 * r] = exp2f(fmaf(s[j][2 * r], scale_log2, -base));
          s[j][2 * r + 1] = exp2f(fmaf(s[j][2 * r + 1], scale_log2, -base));
          row_sum[r] += s[j][2 * r] + s[j][2 * r + 1];
        }
      }
      // Rescale the output only when a running maximum of the warp moved.
      if (__any_sync(kFullMask, moved)) {
#pragma unroll
        for (int d = 0; d < kDimTiles; ++d) {
          o[d][0] *= correction[0];
          o[d][1] *= correction[0];
          o[d][2] *= correction[1];
          o[d][3] *= correction[1];
        }
      }
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk) {
        const uint32_t a[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]),
                               pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                               pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                               pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
        for (int dp = 0; dp < kHeadDim / 16; ++dp) {
          uint32_t b[4];
          ldmatrix_x4_trans(
              b, v_tile + tile_offset<kHeadDim>(kk * 16 + lane % 8 + ((lane / 8) % 2) * 8,
                                                dp * 2 + lane / 16));
          mma_bf16(o[2 * dp], a, b[0], b[1]);
          mma_bf16(o[2 * dp + 1], a, b[2], b[3]);
        }
      }
    }
    __syncthreads();
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float total = attention::warp_sum_quad(row_sum[r]);
    const float inverse = total > 0.0F ? 1.0F / total : 0.0F;
    const int row = warp_row0 + g + 8 * r;
    if (row < rows_in_tile) {
      __nv_bfloat16* out_row =
          args.out + (static_cast<int64_t>(q_start + m0 + row) * num_heads + head) * kHeadDim;
#pragma unroll
      for (int d = 0; d < kDimTiles; ++d) {
        *reinterpret_cast<uint32_t*>(out_row + d * 8 + 2 * t) =
            pack_bf16(o[d][2 * r] * inverse, o[d][2 * r + 1] * inverse);
      }
    }
  }
}

template <int kHeadDim, typename TCache>
void launch(cudaStream_t stream, const PagedAttentionArgsT<__nv_bfloat16, TCache>& args,
            int64_t q_stride) {
  constexpr int kShared = SharedLayout<kHeadDim, TCache>::kBytes;
  constexpr int kBlockM = kBlockMFor<kHeadDim>;
  static const bool configured = [] {  // once per process (one device)
    CUDA_CHECK(cudaFuncSetAttribute(prefill_attention_kernel<kHeadDim, TCache>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
    return true;
  }();
  (void)configured;
  // An upper bound on the number of query tiles: sum ceil(q_len / kBlockM) over sequences.
  const int64_t max_tiles = (args.num_tokens + kBlockM - 1) / kBlockM + args.num_seqs;
  SWIFTKV_CHECK(max_tiles <= 65535, "prefill_attention: too many query tiles: ", max_tiles);
  const dim3 grid(static_cast<unsigned>(args.num_heads), static_cast<unsigned>(max_tiles));
  prefill_attention_kernel<kHeadDim, TCache><<<grid, kThreadsFor<kHeadDim>, kShared, stream>>>(
      args, q_stride, FastDivmod(static_cast<int>(args.block_size)));
  CUDA_CHECK_LAUNCH();
}

template <typename TCache>
void run_prefill_attention(cudaStream_t stream,
                           const PagedAttentionArgsT<__nv_bfloat16, TCache>& args) {
  check_paged_attention_args(args, "prefill_attention");
  SWIFTKV_CHECK(args.scale > 0.0F, "prefill_attention: scale ", args.scale,
                " must be positive (the running maximum is kept on unscaled scores)");
  if (args.num_tokens == 0 || args.num_seqs == 0) {
    return;
  }
  const int64_t q_stride = args.q_stride == 0 ? args.num_heads * args.head_dim : args.q_stride;
  if (args.head_dim == 64) {
    launch<64>(stream, args, q_stride);
  } else {
    launch<128>(stream, args, q_stride);
  }
}

}  // namespace

void prefill_attention_bf16(cudaStream_t stream, const PagedAttentionArgs& args) {
  run_prefill_attention(stream, args);
}

void prefill_attention_bf16(cudaStream_t stream, const PagedAttentionArgsFp8& args) {
  run_prefill_attention(stream, args);
}

}  // namespace swiftkv::cuda
