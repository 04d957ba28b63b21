// Fast paged attention (see paged_attention_ref.cc for the plain definition).
//
// Work unit = (token, kv head): the `group` query heads sharing that kv head are processed
// together, so each cached K/V row is loaded once per unit and used `group` times. Units are
// dealt round-robin to the threads (unit u to thread u % num_threads) because causal prefill
// units grow with the position; round-robin keeps the threads within one unit of each other.
// Per unit: scores = q·Kᵀ·scale into a per-thread scratch [group, n], exp(score - max) in
// place, out = (Σ_j p_j V_j) / Σ_j p_j. f32 throughout; the dot products and the V sums are
// vectorised over head_dim. Not done yet: splitting one long sequence's positions across
// threads (decode of a single sequence has only num_kv_heads units to share out).
#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

namespace swiftkv::kernels::cpu {
namespace {

// Raw views of the (checked) inputs.
struct Views {
  float* out;                   // [num_tokens, num_heads, head_dim]
  const float* q;               // [num_tokens, num_heads, head_dim]
  const float* k_cache;         // [num_blocks, block_size, num_kv_heads, head_dim]
  const float* v_cache;         // [num_blocks, block_size, num_kv_heads, head_dim]
  const int32_t* block_tables;  // [num_seqs, max_blocks_per_seq]
  int64_t max_blocks_per_seq;
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t head_dim;
  int64_t block_size;
  float scale;
};

// Calls fn(j, row_offset) for cache positions j < n of one sequence, row_offset being the
// element offset of (j, kv_head) in a cache.
template <typename Fn>
[[gnu::always_inline]] inline void for_each_position(const Views& v, const int32_t* table,
                                                     int64_t kv_head, int64_t n, Fn&& fn) {
  for (int64_t block_index = 0; block_index * v.block_size < n; ++block_index) {
    const int64_t first = block_index * v.block_size;
    const int64_t count = std::min(v.block_size, n - first);
    const int64_t first_slot = static_cast<int64_t>(table[block_index]) * v.block_size;
    for (int64_t offset = 0; offset < count; ++offset) {
      fn(first + offset, ((first_slot + offset) * v.num_kv_heads + kv_head) * v.head_dim);
    }
  }
}

// One unit: token t of sequence s at `position`, kv head `kv_head`.
// scores: scratch of group * (position + 2) floats: [group, position + 1] probabilities, then
// [group] inverse softmax denominators.
SWIFTKV_CPU_CLONES void attend_unit(const Views& v, int64_t s, int64_t t, int64_t position,
                                    int64_t kv_head, float* scores) {
  const int64_t n = position + 1;
  const int64_t group = v.num_heads / v.num_kv_heads;
  const int64_t d = v.head_dim;
  const int32_t* table = v.block_tables + s * v.max_blocks_per_seq;
  const int64_t first_head = (t * v.num_heads + kv_head * group) * d;  // group heads are adjacent
  const float* q = v.q + first_head;
  float* out = v.out + first_head;

  for_each_position(v, table, kv_head, n, [&](int64_t j, int64_t row) {
    for (int64_t g = 0; g < group; ++g) {
      scores[g * n + j] = simd::dot(q + g * d, v.k_cache + row, d) * v.scale;
    }
  });
  float* inv_denominator = scores + group * n;
  for (int64_t g = 0; g < group; ++g) {
    float* row = scores + g * n;
    const float max_score = *std::max_element(row, row + n);
    float denominator = 0.0F;
    for (int64_t j = 0; j < n; ++j) {
      row[j] = std::exp(row[j] - max_score);
      denominator += row[j];
    }
    inv_denominator[g] = 1.0F / denominator;
  }
  std::fill_n(out, group * d, 0.0F);
  for_each_position(v, table, kv_head, n, [&](int64_t j, int64_t row) {
    for (int64_t g = 0; g < group; ++g) {
      simd::axpy(out + g * d, scores[g * n + j], v.v_cache + row, d);
    }
  });
  for (int64_t g = 0; g < group; ++g) {
    for (int64_t i = 0; i < d; ++i) {
      out[g * d + i] *= inv_denominator[g];
    }
  }
}

}  // namespace

void paged_attention(ThreadPool& pool, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const Tensor& query_start_loc, const Tensor& kv_lens,
                     const Tensor& block_tables, float scale) {
  const Views v{.out = out.data<float>(),
                .q = q.data<float>(),
                .k_cache = k_cache.data<float>(),
                .v_cache = v_cache.data<float>(),
                .block_tables = block_tables.data<int32_t>(),
                .max_blocks_per_seq = block_tables.dim(1),
                .num_heads = q.dim(1),
                .num_kv_heads = k_cache.dim(2),
                .head_dim = q.dim(2),
                .block_size = k_cache.dim(1),
                .scale = scale};
  const int64_t num_tokens = q.dim(0);
  const int64_t num_seqs = kv_lens.dim(0);
  const int32_t* starts = query_start_loc.data<int32_t>();

  // Sequence and position of every token; the total work decides how many threads to wake.
  std::vector<int32_t> seq_of(static_cast<size_t>(num_tokens));
  std::vector<int32_t> position_of(static_cast<size_t>(num_tokens));
  int64_t total_work = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t q_len = starts[s + 1] - starts[s];
    for (int64_t i = 0; i < q_len; ++i) {
      const auto t = static_cast<size_t>(starts[s] + i);
      seq_of[t] = static_cast<int32_t>(s);
      position_of[t] = kv_lens.data<int32_t>()[s] - static_cast<int32_t>(q_len - i);
      total_work += (position_of[t] + 1) * v.num_heads * v.head_dim * 2;
    }
  }
  const int64_t num_units = num_tokens * v.num_kv_heads;
  const int64_t num_workers =
      std::clamp<int64_t>(total_work / kMinWorkPerChunk, 1, pool.num_threads());
  pool.parallel_for(num_workers, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    for (int64_t worker = begin; worker < end; ++worker) {
      for (int64_t unit = worker; unit < num_units; unit += num_workers) {
        const int64_t t = unit / v.num_kv_heads;
        const int32_t position = position_of[static_cast<size_t>(t)];
        const int64_t group = v.num_heads / v.num_kv_heads;
        scores.resize(static_cast<size_t>(group * (position + 2)));
        attend_unit(v, seq_of[static_cast<size_t>(t)], t, position, unit % v.num_kv_heads,
                    scores.data());
      }
    }
  });
}

}  // namespace swiftkv::kernels::cpu
