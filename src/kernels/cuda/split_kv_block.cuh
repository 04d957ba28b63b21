// The split-KV decode attention kernels' blocks (internal to decode_attention.cu): launch
// constants, a block's shared-memory layout, its work (query row, kv head, positions of its split)
// and the cp.async copies of its query rows and cache tiles.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <climits>
#include <cstdint>

#include "kernels/cuda/attention_common.cuh"

namespace swiftkv::cuda::split_kv {

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
constexpr int kMaxGroup = 16;  // query heads per kv head
constexpr unsigned kFullMask = 0xffffffffU;

// Shared memory of one block, in bytes: the query tile (bf16) and kStages K and V stages of the
// cache (TCache): a bf16 stage is the swizzled MMA tile itself, an e4m3 stage the raw bytes in
// the swizzled e4m3 layout, whose ldmatrix fragments are converted in registers.
template <int kHeadDim, typename TCache>
struct SharedLayout {
  static constexpr bool kE4M3 = attention::kIsE4M3<TCache>;
  static constexpr int kQBytes = kMaxGroup * kHeadDim * 2;
  static constexpr int kStageBytes = kTileKeys * kHeadDim * static_cast<int>(sizeof(TCache));
  static constexpr int kBytes = kQBytes + 2 * kStages * kStageBytes;
  static constexpr int kCacheChunks = kHeadDim * static_cast<int>(sizeof(TCache)) / 16;  // per row
  static_assert(kBytes - kQBytes >= (kWarps * kMaxGroup * (kHeadDim + 2)) * 4,
                "the warp combine reuses the K/V stages");
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
__device__ inline SeqInfo find_seq(const int32_t* query_start_loc, const int32_t* kv_lens,
                                   int num_seqs, int token) {
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

// What a split kernel takes: PagedAttentionArgsT's fields it reads, 32-bit where they fit, and
// its workspace, within kMaxStepKernelParameterBytes. The grid is (tokens, kv heads, splits).
template <typename TCache>
struct KernelArgs {
  __nv_bfloat16* out;  // [tokens, heads, head_dim]
  const __nv_bfloat16* q;
  const TCache* k_cache;
  const TCache* v_cache;
  const int32_t* query_start_loc;
  const int32_t* kv_lens;
  const int32_t* block_tables;
  float* partial_out;  // [tokens, heads, splits, head_dim], then the lse [tokens, heads, splits]
  int* splits_done;    // [tokens, kv heads]
  int32_t q_stride;
  int32_t num_seqs;
  int32_t num_heads;
  int32_t max_blocks_per_seq;
  float scale;
  FastDivmod block_size;
};

// Fused RoPE (decode_attention_rope_bf16): what the bf16 kernel takes besides KernelArgs.
struct RopeKernelArgs {
  const int32_t* positions;  // [tokens]
  const float* inv_freq;     // [head_dim / 2]
  int32_t kv_column;         // the row's own k at q + kv_column, v a kv width later; -1: none
};

// Positions per split for a row that sees `visible` positions.
__device__ __forceinline__ int split_chunk(int visible, int num_splits) {
  const int even = (visible + num_splits - 1) / num_splits;
  return max(kMinChunk, (even + kTileKeys - 1) / kTileKeys * kTileKeys);
}

// What one block of the split kernel does: query row `token`, the `group` query heads of
// `kv_head`, cache positions [key_begin, key_end) in `num_tiles` tiles.
struct BlockWork {
  int token;
  int kv_head;
  int split;
  int group;
  int key_begin;
  int key_end;
  int num_tiles;
  int active_splits;  // splits of this row that have positions (the others return at once)
  int stable_end;     // positions before it were written by earlier steps, not this one
  int64_t lse_base;   // partial lse index of (token, first head of the group, split 0)
  const int32_t* block_table;
};

// This block's work; false when it has none (a padding row, or a split past the row's visible
// positions).
template <typename TCache>
__device__ bool find_block_work(const KernelArgs<TCache>& args, BlockWork& work) {
  const auto num_splits = static_cast<int>(gridDim.z);
  work.token = static_cast<int>(blockIdx.x);
  work.kv_head = static_cast<int>(blockIdx.y);
  work.split = static_cast<int>(blockIdx.z);
  const SeqInfo info = find_seq(args.query_start_loc, args.kv_lens, args.num_seqs, work.token);
  if (info.seq < 0) {
    return false;
  }
  const int num_heads = args.num_heads;
  work.group = num_heads / static_cast<int>(gridDim.y);
  const int q_len = info.q_end - info.q_start;
  const int visible = info.kv_len - q_len + (work.token - info.q_start) + 1;
  const int chunk = split_chunk(visible, num_splits);
  work.active_splits = (visible + chunk - 1) / chunk;
  work.lse_base =
      (static_cast<int64_t>(work.token) * num_heads + work.kv_head * work.group) * num_splits;
  if (work.split >= work.active_splits) {
    return false;
  }
  work.stable_end = info.kv_len - q_len;
  work.key_begin = work.split * chunk;
  work.key_end = min(visible, work.key_begin + chunk);
  work.num_tiles = (work.key_end - work.key_begin + kTileKeys - 1) / kTileKeys;
  work.block_table = args.block_tables + info.seq * args.max_blocks_per_seq;
  return true;
}

// Starts the cp.async copy of the group's query rows into the swizzled bf16 tile (rows past the
// group zero-filled).
template <int kHeadDim>
__device__ void load_q_tile(const __nv_bfloat16* q, int64_t q_stride, const BlockWork& work,
                            __nv_bfloat16* q_tile) {
  constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks of a bf16 row
  for (int c = static_cast<int>(threadIdx.x); c < kMaxGroup * kChunks; c += kThreads) {
    const int row = c / kChunks;
    const int chunk_index = c % kChunks;
    const bool valid = row < work.group;
    const int64_t offset =
        valid
            ? work.token * q_stride + (work.kv_head * work.group + row) * kHeadDim + chunk_index * 8
            : 0;
    attention::cp_async_16(q_tile + tile_offset<kHeadDim>(row, chunk_index), q + offset, valid);
  }
}

// Starts the cp.async copy of cache tile `tile` of the block's positions into stage `stage`
// (positions past key_end zero-filled; positions from `skip_from` to key_end are left to the
// block, which stores them itself: fused RoPE's own row). The block-table reads of all the thread's
// rows are issued before the first copy (the copies' asm is a compiler memory barrier, so reads
// between them would be waited for one at a time) and unconditionally (clamped_tile_offsets:
// under the rows' bounds checks they were 8 L2 round trips in a row per tile).
template <int kHeadDim, typename TCache>
__device__ void load_kv_tile(const KernelArgs<TCache>& args, const BlockWork& work, int tile,
                             int stage, unsigned char* k_stages, unsigned char* v_stages,
                             int skip_from = INT_MAX) {
  using Layout = SharedLayout<kHeadDim, TCache>;
  constexpr int kCacheChunks = Layout::kCacheChunks;
  constexpr int kPerThread = kTileKeys * kCacheChunks / kThreads;
  static_assert(kTileKeys * kCacheChunks % kThreads == 0);
  const int n0 = work.key_begin + tile * kTileKeys;
  const auto num_kv_heads = static_cast<int>(gridDim.y);
  int64_t offsets[kPerThread];
  attention::clamped_tile_offsets<kPerThread, kThreads, kCacheChunks, 16 / sizeof(TCache)>(
      offsets, n0, work.key_end - 1, [&](int position) {
        return cache_row_offset(work.block_table, position, args.block_size, num_kv_heads,
                                work.kv_head, kHeadDim);
      });
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int c = static_cast<int>(threadIdx.x) + i * kThreads;
    const int row = c / kCacheChunks;
    const int chunk_index = c % kCacheChunks;
    const bool valid = n0 + row < work.key_end;
    if (skip_from != INT_MAX && valid && n0 + row >= skip_from) {
      continue;
    }
    const int64_t offset = valid ? offsets[i] : 0;
    const int destination = stage * Layout::kStageBytes +
                            (Layout::kE4M3 ? attention::e4m3_tile_offset<kHeadDim>(row, chunk_index)
                                           : 2 * tile_offset<kHeadDim>(row, chunk_index));
    attention::cp_async_16(k_stages + destination, args.k_cache + offset, valid);
    attention::cp_async_16(v_stages + destination, args.v_cache + offset, valid);
  }
}

}  // namespace swiftkv::cuda::split_kv
