// A split-KV decode attention block's result (internal to decode_attention.cu): its warps'
// partial softmax states merged into the split's partial output, and the row's last split
// combining every split's.
#pragma once

#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/split_kv_pipeline.cuh"

namespace swiftkv::cuda::split_kv {

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
  constexpr int kEarlySplits = 16;
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
    const auto partial_of = [&](int s) {
      return o.partial_out + (base + s) * kHeadDim + lane * kPerLane;
    };
    // The first kEarlySplits partial outputs are loaded together with the log-sum-exps, before
    // the weights are known: one round trip to L2 instead of three at up to 16 splits.
    float early[kEarlySplits][kPerLane];
#pragma unroll
    for (int s = 0; s < kEarlySplits; ++s) {
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        early[s][i] = s < splits ? __ldcg(partial_of(s) + i) : 0.0F;
      }
    }
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
#pragma unroll
    for (int s = 0; s < kEarlySplits; ++s) {
      if (s < splits) {
        const float weight = weights[warp][s];
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) {
          value[i] += weight * early[s][i];
        }
      }
    }
#pragma unroll 8
    for (int s = kEarlySplits; s < splits; ++s) {
      const float weight = weights[warp][s];
      const float* partial = partial_of(s);
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

}  // namespace swiftkv::cuda::split_kv
