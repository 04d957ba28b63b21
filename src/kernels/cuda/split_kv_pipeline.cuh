// A split-KV decode attention block's copy pipeline (internal to decode_attention.cu): its
// shared memory, the query tile and cache stages in flight, and RoPE fused into its start.
#pragma once

#include <cuda_bf16.h>

#include <climits>
#include <cstdint>

#include "kernels/cuda/programmatic_launch.cuh"
#include "kernels/cuda/rope_math.cuh"
#include "kernels/cuda/split_kv_block.cuh"

namespace swiftkv::cuda::split_kv {

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

}  // namespace swiftkv::cuda::split_kv
