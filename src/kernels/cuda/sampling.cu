#include <cmath>
#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/sampling.h"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 2048;  // 11-bit digits
constexpr int kBinsPerThread = kBins / kThreads;
constexpr unsigned kFullMask = 0xffffffffU;
constexpr float kLog2e = 1.44269504088896340736F;
constexpr double kMassScale = 1099511627776.0;  // 2^40: fixed-point unit of probability mass

// f32 bits mapped so that unsigned order equals float order (-inf lowest).
__device__ __forceinline__ uint32_t order_key(float value) {
  const uint32_t bits = __float_as_uint(value);
  return (bits & 0x80000000U) != 0 ? ~bits : bits | 0x80000000U;
}

// A uniform draw in (0, 1) for (seed, offset, index), counter-based: SplitMix64's finaliser
// (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014) over a
// Weyl-sequence mix of the three; the top 24 bits, centred in their interval.
__device__ __forceinline__ float uniform(uint64_t seed, uint64_t offset, uint32_t index) {
  uint64_t x = seed + offset * 0x9E3779B97F4A7C15ULL +
               (static_cast<uint64_t>(index) + 1) * 0xD1B54A32D192ED03ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return (static_cast<float>(x >> 40) + 0.5F) * 0x1p-24F;
}

struct ArgMax {
  float value;
  int index;
};

__device__ __forceinline__ ArgMax better(ArgMax a, ArgMax b) {
  return (b.value > a.value || (b.value == a.value && b.index < a.index)) ? b : a;
}

// Block-wide argmax, the lowest index on ties; every thread gets the result.
__device__ __forceinline__ ArgMax block_argmax(ArgMax local, ArgMax* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const ArgMax other = {__shfl_xor_sync(kFullMask, local.value, offset),
                          __shfl_xor_sync(kFullMask, local.index, offset)};
    local = better(local, other);
  }
  const int warp = static_cast<int>(threadIdx.x / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (lane == 0) {
    scratch[warp] = local;
  }
  __syncthreads();
  local = lane < kWarps ? scratch[lane] : ArgMax{-INFINITY, 0x7fffffff};
  for (int offset = 16; offset > 0; offset /= 2) {
    const ArgMax other = {__shfl_xor_sync(kFullMask, local.value, offset),
                          __shfl_xor_sync(kFullMask, local.index, offset)};
    local = better(local, other);
  }
  __syncthreads();  // scratch may be reused right after
  return local;
}

// Block-wide sum of unsigned 64-bit values (exact, so deterministic); every thread gets it.
__device__ __forceinline__ unsigned long long block_sum(unsigned long long local,
                                                        unsigned long long* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) {
    local += __shfl_xor_sync(kFullMask, local, offset);
  }
  const int warp = static_cast<int>(threadIdx.x / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (lane == 0) {
    scratch[warp] = local;
  }
  __syncthreads();
  local = lane < kWarps ? scratch[lane] : 0;
  for (int offset = 16; offset > 0; offset /= 2) {
    local += __shfl_xor_sync(kFullMask, local, offset);
  }
  __syncthreads();
  return local;
}

// Exclusive prefix sum over the block (thread order); every thread also gets the total.
__device__ __forceinline__ unsigned long long block_exclusive_scan(unsigned long long local,
                                                                   unsigned long long* scratch,
                                                                   unsigned long long* total) {
  const int warp = static_cast<int>(threadIdx.x / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  unsigned long long inclusive = local;
  for (int offset = 1; offset < 32; offset *= 2) {
    const unsigned long long other = __shfl_up_sync(kFullMask, inclusive, offset);
    if (lane >= offset) {
      inclusive += other;
    }
  }
  if (lane == 31) {
    scratch[warp] = inclusive;
  }
  __syncthreads();
  const unsigned long long warp_total = lane < kWarps ? scratch[lane] : 0;
  unsigned long long warp_inclusive = warp_total;
  for (int offset = 1; offset < 32; offset *= 2) {
    const unsigned long long other = __shfl_up_sync(kFullMask, warp_inclusive, offset);
    if (lane >= offset) {
      warp_inclusive += other;
    }
  }
  const unsigned long long warp_before = __shfl_sync(kFullMask, warp_inclusive - warp_total, warp);
  *total = __shfl_sync(kFullMask, warp_inclusive, 31);
  __syncthreads();
  return warp_before + inclusive - local;
}

struct RowContext {
  const float* logits;
  int vocab_size;
  float max_logit;
  float scale_log2;    // log2(e) / temperature
  float min_p;         // 0 = off
  uint32_t threshold;  // keep keys >= threshold (0 = all)
};

__device__ __forceinline__ float ratio(const RowContext& row, float logit) {
  return exp2f((logit - row.max_logit) * row.scale_log2);  // p / p_max
}

__device__ __forceinline__ bool kept(const RowContext& row, float logit, uint32_t key) {
  return key >= row.threshold && (row.min_p <= 0.0F || ratio(row, logit) >= row.min_p);
}

__device__ __forceinline__ unsigned long long fixed_mass(float r) {
  return static_cast<unsigned long long>(static_cast<double>(r) * kMassScale);
}

struct Selection {
  bool found;
  uint32_t key;
};

// Finds, among kept elements, the key at which the running total (count, or fixed-point mass
// when kByMass) taken from the largest key down first reaches `target`; not found when the kept
// elements total less than target.
template <bool kByMass>
__device__ __forceinline__ Selection radix_select(const RowContext& row, unsigned long long target,
                                                  unsigned long long* histogram,
                                                  unsigned long long* scratch) {
  __shared__ uint32_t selected_bin;
  __shared__ unsigned long long selected_above;
  uint32_t prefix = 0;
  uint32_t prefix_mask = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = pass == 0 ? 21 : (pass == 1 ? 10 : 0);
    const uint32_t digit_mask = pass == 2 ? 0x3ffU : 0x7ffU;
    for (int b = static_cast<int>(threadIdx.x); b < kBins; b += kThreads) {
      histogram[b] = 0;
    }
    __syncthreads();
    for (int i = static_cast<int>(threadIdx.x); i < row.vocab_size; i += kThreads) {
      const float logit = row.logits[i];
      const uint32_t key = order_key(logit);
      if ((key & prefix_mask) == prefix && kept(row, logit, key)) {
        const unsigned long long amount = kByMass ? fixed_mass(ratio(row, logit)) : 1ULL;
        if (amount != 0) {
          atomicAdd(&histogram[(key >> shift) & digit_mask], amount);
        }
      }
    }
    __syncthreads();
    // Thread i owns bins kBins-1 - kBinsPerThread·i downwards: thread order is descending key
    // order. The selected bin is the one whose running total crosses the target.
    const int top_bin = kBins - 1 - kBinsPerThread * static_cast<int>(threadIdx.x);
    unsigned long long owned = 0;
    for (int j = 0; j < kBinsPerThread; ++j) {
      owned += histogram[top_bin - j];
    }
    unsigned long long total = 0;
    unsigned long long above = block_exclusive_scan(owned, scratch, &total);
    if (pass == 0 && total < target) {
      return {false, 0};  // uniform across the block
    }
    for (int j = 0; j < kBinsPerThread; ++j) {
      const unsigned long long amount = histogram[top_bin - j];
      if (above < target && target <= above + amount) {
        selected_bin = static_cast<uint32_t>(top_bin - j);
        selected_above = above;
      }
      above += amount;
    }
    __syncthreads();
    prefix |= (selected_bin & digit_mask) << shift;
    prefix_mask |= digit_mask << shift;
    target -= selected_above;
    __syncthreads();  // selected_* are rewritten by the next pass
  }
  return {true, prefix};
}

__global__ void __launch_bounds__(kThreads, 2) sampling_kernel(SamplingArgs args, int64_t stride) {
  __shared__ unsigned long long histogram[kBins];
  __shared__ unsigned long long scratch[kWarps];
  __shared__ ArgMax argmax_scratch[kWarps];
  const int64_t r = blockIdx.x;
  RowContext row{};
  row.logits = args.logits + r * stride;
  row.vocab_size = static_cast<int>(args.vocab_size);

  const float temperature = args.temperatures[r];
  const int top_k = args.top_k[r];
  const float top_p = args.top_p[r];
  row.min_p = args.min_p[r] > 0.0F ? args.min_p[r] : 0.0F;
  const bool use_top_k = top_k > 0 && top_k < row.vocab_size;
  const bool greedy = temperature < kGreedyTemperature;
  row.max_logit = 0.0F;  // only a shift of every score unless a filter needs the real maximum
  row.scale_log2 = greedy ? 0.0F : kLog2e / temperature;
  row.threshold = 0;
  if (greedy || use_top_k || top_p < 1.0F || row.min_p > 0.0F) {
    ArgMax best = {-INFINITY, 0};
    for (int i = static_cast<int>(threadIdx.x); i < row.vocab_size; i += kThreads) {
      const float logit = row.logits[i];
      if (logit > best.value) {
        best = {logit, i};
      }
    }
    best = block_argmax(best, argmax_scratch);
    if (greedy) {
      if (threadIdx.x == 0) {
        args.tokens[r] = best.index;
      }
      return;
    }
    row.max_logit = best.value;
  }

  if (use_top_k) {
    const Selection selection =
        radix_select<false>(row, static_cast<unsigned long long>(top_k), histogram, scratch);
    if (selection.found) {
      row.threshold = selection.key;
    }
  }
  if (top_p < 1.0F) {
    unsigned long long local = 0;
    for (int i = static_cast<int>(threadIdx.x); i < row.vocab_size; i += kThreads) {
      const float logit = row.logits[i];
      if (kept(row, logit, order_key(logit))) {
        local += fixed_mass(ratio(row, logit));
      }
    }
    const unsigned long long kept_mass = block_sum(local, scratch);
    const auto target = static_cast<unsigned long long>(
        ceil(static_cast<double>(kept_mass) * static_cast<double>(top_p)));
    if (target > 0) {
      const Selection selection = radix_select<true>(row, target, histogram, scratch);
      if (selection.found) {
        row.threshold = selection.key;
      }
    }
  }

  // Gumbel-max in base 2: argmax of (logit - max) · log2(e) / T - log2(-log2 u) equals argmax of
  // (logit - max) / T - ln(-ln u) (scaled by log2(e), shifted by log2(ln 2)). The inner log is
  // the accurate log2f (u may be within 2^-25 of 1); the outer, of a value in (2^-25, 24],
  // the approximate one (2^-22 absolute error).
  const uint64_t seed = args.seeds[r];
  const uint64_t offset = args.offsets[r];
  ArgMax draw = {-INFINITY, 0x7fffffff};
  for (int i = static_cast<int>(threadIdx.x); i < row.vocab_size; i += kThreads) {
    const float logit = row.logits[i];
    if (kept(row, logit, order_key(logit))) {
      const float u = uniform(seed, offset, static_cast<uint32_t>(i));
      const float score = (logit - row.max_logit) * row.scale_log2 - __log2f(-log2f(u));
      if (score > draw.value) {
        draw = {score, i};
      }
    }
  }
  draw = block_argmax(draw, argmax_scratch);
  if (threadIdx.x == 0) {
    args.tokens[r] = draw.index < row.vocab_size ? draw.index : 0;  // 0: every logit is -inf
  }
}

}  // namespace

void sample_tokens(cudaStream_t stream, const SamplingArgs& args) {
  SWIFTKV_CHECK(args.vocab_size > 0 && args.vocab_size < (int64_t{1} << 30),
                "sample_tokens: bad vocab_size ", args.vocab_size);
  const int64_t stride = args.logits_stride == 0 ? args.vocab_size : args.logits_stride;
  SWIFTKV_CHECK(stride >= args.vocab_size, "sample_tokens: logits_stride ", stride,
                " < vocab_size ", args.vocab_size);
  if (args.num_rows == 0) {
    return;
  }
  sampling_kernel<<<static_cast<unsigned>(args.num_rows), kThreads, 0, stream>>>(args, stride);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swiftkv::cuda
