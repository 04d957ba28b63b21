#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/programmatic_launch.cuh"
#include "kernels/cuda/rope_math.cuh"

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
// between them would be waited for one at a time), and unconditionally, at a position clamped into
// the block's range: a read under the row's bounds check compiled into a branch whose read was
// waited for before the next row's, 8 L2 round trips in a row per tile.
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
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int c = static_cast<int>(threadIdx.x) + i * kThreads;
    const int position = min(n0 + c / kCacheChunks, work.key_end - 1);
    offsets[i] = cache_row_offset(work.block_table, position, args.block_size, num_kv_heads,
                                  work.kv_head, kHeadDim) +
                 c % kCacheChunks * (16 / static_cast<int>(sizeof(TCache)));
  }
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

// Fused RoPE in the bf16 decode kernel (decode_attention_rope_bf16, a one-row step): after its
// dependency wait the block reads the group's query rows from the projection's output and
// rotates them into the query tile (the RoPE kernel's math, rope_math.cuh); the block whose
// positions hold the row's own position (the row's last: the last split) also rotates that
// position's k and stores k and v into the cache and, for a tile among the first kStages, into
// its stage (whose copy skips the row). The angles, the own row's cache address and the query
// tile's zero rows come before the wait. Work units (row, c): rows are the group's query heads,
// then k and v; c < kHeadDim / 16 names the 16-byte chunks c and c + kHeadDim / 16 of the row,
// whose elements pair up as (i, i + head_dim / 2).
template <int kHeadDim>
struct FusedRope {
  using Layout = SharedLayout<kHeadDim, __nv_bfloat16>;
  static constexpr int kHalfChunks = kHeadDim / 16;
  static constexpr int kMaxUnits = (kMaxGroup + 2) * kHalfChunks;
  static constexpr int kPerThread = (kMaxUnits + kThreads - 1) / kThreads;
  static_assert(kThreads % kHalfChunks == 0, "a thread's units share their chunk");
  RopeAngle angles[8];  // elements 8c .. 8c + 7 of the low half, c = threadIdx.x % kHalfChunks
  int units = 0;
  int own_tile = -1;  // the tile of the block's own row, -1: none
  int own_row = 0;    // its row in the tile
  int64_t own_offset = 0;

  // The own position of a one-row step is the row's last visible one (stable_end).
  __device__ void prepare(const KernelArgs<__nv_bfloat16>& args, const RopeKernelArgs& rope,
                          const BlockWork& work, __nv_bfloat16* q_tile) {
    const int own = work.stable_end;
    const bool owns = rope.kv_column >= 0 && work.key_begin <= own && own < work.key_end;
    if (owns) {
      own_tile = (own - work.key_begin) / kTileKeys;
      own_row = (own - work.key_begin) % kTileKeys;
      own_offset = cache_row_offset(work.block_table, own, args.block_size,
                                    static_cast<int>(gridDim.y), work.kv_head, kHeadDim);
    }
    units = (work.group + (owns ? 2 : 0)) * kHalfChunks;
    if (static_cast<int>(threadIdx.x) < units) {
      const auto position = static_cast<float>(rope.positions[work.token]);
      const auto* inv_freq = reinterpret_cast<const float4*>(rope.inv_freq) +
                             2 * (static_cast<int>(threadIdx.x) % kHalfChunks);
      const float4 f0 = inv_freq[0];
      const float4 f1 = inv_freq[1];
      const float f[8] = {f0.x, f0.y, f0.z, f0.w, f1.x, f1.y, f1.z, f1.w};
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        angles[j] = rope_angle(position, f[j]);
      }
    }
    constexpr int kChunks = kHeadDim / 8;
    for (int e = static_cast<int>(threadIdx.x); e < (kMaxGroup - work.group) * kChunks;
         e += kThreads) {
      *reinterpret_cast<uint4*>(q_tile +
                                tile_offset<kHeadDim>(work.group + e / kChunks, e % kChunks)) =
          make_uint4(0, 0, 0, 0);
    }
  }

  // (low, high) = chunks c and c + kHalfChunks of a row, rotated in place.
  __device__ void rotate(uint4& low, uint4& high) const {
    uint32_t* l = &low.x;
    uint32_t* h = &high.x;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&l[j]));
      const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&h[j]));
      const RopeAngle r0 = angles[2 * j];
      const RopeAngle r1 = angles[2 * j + 1];
      l[j] = pack_bf16(rope_low(a.x, b.x, r0), rope_low(a.y, b.y, r1));
      h[j] = pack_bf16(rope_high(a.x, b.x, r0), rope_high(a.y, b.y, r1));
    }
  }

  // After the wait: every unit's two chunks loaded first (one memory round trip), then rotated
  // and stored.
  __device__ void apply(const KernelArgs<__nv_bfloat16>& args, const RopeKernelArgs& rope,
                        const BlockWork& work, __nv_bfloat16* q_tile, unsigned char* k_stages,
                        unsigned char* v_stages) const {
    const __nv_bfloat16* qkv_row = args.q + static_cast<int64_t>(work.token) * args.q_stride;
    const auto num_kv_heads = static_cast<int>(gridDim.y);
    const int c = static_cast<int>(threadIdx.x) % kHalfChunks;
    uint4 low[kPerThread];
    uint4 high[kPerThread];
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      const int row = (static_cast<int>(threadIdx.x) + i * kThreads) / kHalfChunks;
      if (row * kHalfChunks < units) {
        const int head =
            row < work.group
                ? (work.kv_head * work.group + row) * kHeadDim
                : rope.kv_column + ((row - work.group) * num_kv_heads + work.kv_head) * kHeadDim;
        low[i] = __ldcg(reinterpret_cast<const uint4*>(qkv_row + head) + c);
        high[i] = __ldcg(reinterpret_cast<const uint4*>(qkv_row + head) + c + kHalfChunks);
      }
    }
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      const int row = (static_cast<int>(threadIdx.x) + i * kThreads) / kHalfChunks;
      if (row * kHalfChunks >= units) {
        continue;
      }
      if (row <= work.group) {  // v is not rotated
        rotate(low[i], high[i]);
      }
      if (row < work.group) {
        *reinterpret_cast<uint4*>(q_tile + tile_offset<kHeadDim>(row, c)) = low[i];
        *reinterpret_cast<uint4*>(q_tile + tile_offset<kHeadDim>(row, c + kHalfChunks)) = high[i];
        continue;
      }
      const bool is_k = row == work.group;
      auto* cache = const_cast<__nv_bfloat16*>(is_k ? args.k_cache : args.v_cache) + own_offset;
      reinterpret_cast<uint4*>(cache)[c] = low[i];
      reinterpret_cast<uint4*>(cache)[c + kHalfChunks] = high[i];
      if (own_tile < kStages) {
        unsigned char* stage = (is_k ? k_stages : v_stages) + own_tile * Layout::kStageBytes;
        *reinterpret_cast<uint4*>(stage + 2 * tile_offset<kHeadDim>(own_row, c)) = low[i];
        *reinterpret_cast<uint4*>(stage + 2 * tile_offset<kHeadDim>(own_row, c + kHalfChunks)) =
            high[i];
      }
    }
  }
};

// The warps' partial results at the end of a block: out [kWarps][kMaxGroup][kHeadDim]
// (unnormalised), row maxima and row sums [kWarps][kMaxGroup] (log2 domain).
struct WarpPartials {
  float* out;
  float* max;
  float* sum;
};

// The dynamic shared memory of a block of either split kernel (SharedLayout).
extern __shared__ __align__(128) unsigned char block_shared[];

// One block's shared memory and cp.async pipeline (both kernels): the query tile, then kStages
// K and V stages; tile t lives in stage t % kStages, two tiles are in flight ahead of the one
// being read. (The layout addresses block_shared itself, so the compiler keeps 32-bit shared
// addresses.)
template <int kHeadDim, typename TCache, bool kFusedRope = false>
struct BlockPipeline {
  using Layout = SharedLayout<kHeadDim, TCache>;
  const KernelArgs<TCache>& args;
  BlockWork work{};
  int own_row_from = INT_MAX;  // fused RoPE: the own row, which tiles below kStages do not copy

  __device__ int skip_from(int tile) const {
    return kFusedRope && tile < kStages ? own_row_from : INT_MAX;
  }

  __device__ __nv_bfloat16* q_tile() const {
    return reinterpret_cast<__nv_bfloat16*>(block_shared);
  }
  __device__ unsigned char* k_stages() const { return block_shared + Layout::kQBytes; }
  __device__ unsigned char* v_stages() const { return k_stages() + kStages * Layout::kStageBytes; }
  __device__ const unsigned char* k_stage(int tile) const {
    return k_stages() + (tile % kStages) * Layout::kStageBytes;
  }
  __device__ const unsigned char* v_stage(int tile) const {
    return v_stages() + (tile % kStages) * Layout::kStageBytes;
  }

  // Lets the next kernel (a programmatic launch) be scheduled as soon as every block of this
  // grid has started (it waits for this grid's completion itself), finds the block's work
  // (false: none, find_block_work) and starts copying the query rows and the first two cache
  // tiles. This kernel is a programmatic launch too: the query rows and the step's own cache
  // positions come from the kernels before it, so only the tiles of positions earlier steps
  // wrote are copied before waiting for them (with the metadata: uploaded before the step).
  // The query rows and the first two tiles form the first copy group. Fused RoPE (kFusedRope):
  // the query rows come rotated from FusedRope, and the block's own row (if any) is stored by
  // it, so every tile below kStages can be copied before the wait.
  __device__ bool start(const RopeKernelArgs& rope) {
    allow_dependents_to_launch();
    const bool has_work = find_block_work(args, work);
    const int first_tiles = has_work ? min(work.num_tiles, 2) : 0;
    FusedRope<kHeadDim> fused{};
    if constexpr (kFusedRope) {
      if (has_work) {
        fused.prepare(args, rope, work, q_tile());
        own_row_from = fused.own_tile >= 0 ? work.stable_end : INT_MAX;
      }
    }
    const int early_end = kFusedRope && own_row_from != INT_MAX ? work.key_end : work.stable_end;
    const auto stable = [&](int tile) {
      return min(work.key_end, work.key_begin + (tile + 1) * kTileKeys) <= early_end;
    };
    for (int tile = 0; tile < first_tiles; ++tile) {
      if (stable(tile)) {
        load_kv_tile<kHeadDim>(args, work, tile, tile, k_stages(), v_stages(), skip_from(tile));
      }
    }
    wait_for_previous_grid();
    if (!has_work) {
      return false;
    }
    if constexpr (kFusedRope) {
      fused.apply(args, rope, work, q_tile(), k_stages(), v_stages());
    } else {
      load_q_tile<kHeadDim>(args.q, args.q_stride, work, q_tile());
    }
    for (int tile = 0; tile < first_tiles; ++tile) {
      if (!stable(tile)) {
        load_kv_tile<kHeadDim>(args, work, tile, tile, k_stages(), v_stages(), skip_from(tile));
      }
    }
    cp_async_commit();
    cp_async_commit();  // (empty) the second group, so wait_for's counting holds
    return true;
  }

  // Starts copying tile + 2 and waits until tile `tile` (and the query rows) are in shared
  // memory for every thread. The caller ends each tile with __syncthreads().
  __device__ void wait_for(int tile) {
    if (tile + 2 < work.num_tiles) {
      // Tiles from kStages on are copied after the block's own row reached the cache (a barrier
      // of an earlier wait_for orders the two).
      load_kv_tile<kHeadDim>(args, work, tile + 2, (tile + 2) % kStages, k_stages(), v_stages(),
                             skip_from(tile + 2));
    }
    cp_async_commit();
    cp_async_wait<2>();
    __syncthreads();
  }

  // After the last tile: drains the (empty) copy groups; the warps' partial results then reuse
  // the stages.
  __device__ WarpPartials finish() {
    cp_async_wait<0>();
    __syncthreads();
    auto* out = reinterpret_cast<float*>(k_stages());
    float* max = out + kWarps * kMaxGroup * kHeadDim;
    return {out, max, max + kWarps * kMaxGroup};
  }
};

// Where the split kernels put their results: one normalised partial output and log-sum-exp per
// (query row, head, split), and per (query row, kv head) a count of the splits that are done
// (zero between calls: the last split resets it).
struct SplitOutputs {
  __nv_bfloat16* out;  // args.out
  int64_t num_heads;
  float* partial_out;  // [tokens, heads, num_splits, head_dim]
  float* partial_lse;  // [tokens, heads, num_splits]
  int* splits_done;    // [tokens, kv heads]
  int num_kv_heads;
};

template <int kHeadDim, typename TCache>
__device__ SplitOutputs split_outputs(const KernelArgs<TCache>& args) {
  const int64_t partials = int64_t{gridDim.x} * args.num_heads * gridDim.z * kHeadDim;
  return {args.out,         args.num_heads,
          args.partial_out, args.partial_out + partials,
          args.splits_done, static_cast<int>(gridDim.y)};
}

// The last split of a (query row, kv head) to finish weights every split's partial output by
// its log-sum-exp and writes the group's output rows (so no second kernel is needed): one warp
// per query head, the lanes over the splits for the weights, then over the dimensions.
template <int kHeadDim>
__device__ void combine_if_last(const BlockWork& work, int num_splits, const SplitOutputs& o) {
  constexpr int kPerLane = kHeadDim / 32;
  __shared__ int is_last;
  __shared__ float weights[kWarps][kMaxSplits];
  // The count is one acquire-release atomic of one thread after the block's barrier (the
  // barrier orders the other threads' partial stores before it, and release and acquire are
  // cumulative), not a fence in every thread: the pattern of CUTLASS's split-K semaphore.
  __syncthreads();
  if (threadIdx.x == 0) {
    int* done = o.splits_done + static_cast<int64_t>(work.token) * o.num_kv_heads + work.kv_head;
    int before = 0;
    asm volatile("atom.acq_rel.gpu.global.add.s32 %0, [%1], 1;\n"
                 : "=r"(before)
                 : "l"(done)
                 : "memory");
    is_last = before == work.active_splits - 1;
    if (is_last) {
      *done = 0;  // every split has counted: ready for the next call
    }
  }
  __syncthreads();
  if (!is_last) {
    return;
  }
  const int warp = static_cast<int>(threadIdx.x / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int splits = work.active_splits;
  for (int row = warp; row < work.group; row += kWarps) {
    const int64_t base = work.lse_base + static_cast<int64_t>(row) * num_splits;
    float lse[kMaxSplits / 32];
    float max_lse = -INFINITY;
#pragma unroll
    for (int i = 0; i < kMaxSplits / 32; ++i) {
      const int s = lane + 32 * i;
      lse[i] = s < splits ? __ldcg(o.partial_lse + base + s) : -INFINITY;
      max_lse = fmaxf(max_lse, lse[i]);
    }
    for (int offset = 16; offset > 0; offset /= 2) {
      max_lse = fmaxf(max_lse, __shfl_xor_sync(kFullMask, max_lse, offset));
    }
    float total = 0.0F;
#pragma unroll
    for (int i = 0; i < kMaxSplits / 32; ++i) {
      const int s = lane + 32 * i;
      if (s < splits) {
        const float weight = exp2f(lse[i] - max_lse);
        weights[warp][s] = weight;
        total += weight;
      }
    }
    for (int offset = 16; offset > 0; offset /= 2) {
      total += __shfl_xor_sync(kFullMask, total, offset);
    }
    __syncwarp();
    float value[kPerLane] = {};
#pragma unroll 8
    for (int s = 0; s < splits; ++s) {
      const float weight = weights[warp][s];
      const float* partial = o.partial_out + (base + s) * kHeadDim + lane * kPerLane;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        value[i] += weight * __ldcg(partial + i);
      }
    }
    __nv_bfloat16* out = o.out +
                         (work.token * o.num_heads + work.kv_head * work.group + row) * kHeadDim +
                         lane * kPerLane;
#pragma unroll
    for (int i = 0; i < kPerLane; i += 2) {
      *reinterpret_cast<uint32_t*>(out + i) = pack_bf16(value[i] / total, value[i + 1] / total);
    }
    __syncwarp();
  }
}

// The block's four warps each hold a partial softmax state over their positions, stored in
// shared memory as out [kWarps][kMaxGroup][kHeadDim] (unnormalised), row maxima and row sums
// [kWarps][kMaxGroup] (log2 domain). Merges them into the split's normalised output (times
// value_scale): the group's output rows when the row has one split, else its partial output and
// log-sum-exp, combined by the row's last split.
template <int kHeadDim>
__device__ void write_block_result(const WarpPartials& warps, const BlockWork& work, int num_splits,
                                   float value_scale, const SplitOutputs& o) {
  const float* warp_out = warps.out;
  const float* warp_max = warps.max;
  const float* warp_sum = warps.sum;
  for (int e = static_cast<int>(threadIdx.x); e < work.group * kHeadDim; e += kThreads) {
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
    if (work.active_splits == 1) {
      o.out[(work.token * o.num_heads + work.kv_head * work.group + row) * kHeadDim + d] =
          __float2bfloat16(value / sum * value_scale);
      continue;
    }
    const int64_t index = work.lse_base + static_cast<int64_t>(row) * num_splits + work.split;
    o.partial_out[index * kHeadDim + d] = value / sum * value_scale;
    if (d == 0) {
      o.partial_lse[index] = max_all + log2f(sum);
    }
  }
  if (work.active_splits > 1) {
    combine_if_last<kHeadDim>(work, num_splits, o);
  }
}

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

void decode_attention_bf16(cudaStream_t stream, const PagedAttentionArgs& args, int num_splits,
                           void* workspace, size_t workspace_bytes) {
  run_decode_attention(stream, args, num_splits, workspace, workspace_bytes);
}

void decode_attention_bf16(cudaStream_t stream, const PagedAttentionArgsFp8& args, int num_splits,
                           void* workspace, size_t workspace_bytes) {
  run_decode_attention(stream, args, num_splits, workspace, workspace_bytes);
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
  run_decode_attention(
      stream, args, num_splits, workspace, workspace_bytes,
      RopeKernelArgs{.positions = rope.positions,
                     .inv_freq = rope.inv_freq,
                     .kv_column = static_cast<int32_t>(rope.kv_column < 0 ? -1 : rope.kv_column)});
}

}  // namespace swiftkv::cuda
