// Fast paged attention (see paged_attention_ref.cc for the plain definition).
//
// Work unit = (query block, kv head): up to kQueryBlock consecutive query tokens of one sequence
// and the `group` query heads sharing that kv head are processed together, so each cached K/V
// row is read from memory once per unit for up to kQueryBlock · group query rows (a decode token
// is a block of one). Units are dealt round-robin to the threads (unit u to thread
// u % num_threads) because causal prefill units grow with the position; round-robin keeps the
// threads within one unit of each other. Per unit, f32 throughout:
// - scores = q·Kᵀ·scale into a per-thread scratch [rows, n], 16 positions per step (16 dot
//   products as 16-lane FMAs and one 16-way horizontal sum, simd::dot16); row r keeps the
//   positions it sees (up to its own);
// - exp(score - max) in place, 16 lanes at a time (simd::exp);
// - out = (Σ_j p_j V_j) / Σ_j p_j row by row, the sums in registers 64 columns at a time.
// Measured on this 2-core VM (llama-100m, 1 thread, 1,024-token prompt): prefill 162-190 ->
// 262-310 tokens/s, decode 20-22 -> 25 tokens/s (docs/benchmarks.md, CPU). Not done yet:
// splitting one long sequence's positions across threads (decode of a single sequence has only
// num_kv_heads units to share out).
#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

// Query tokens per unit: each K/V row read from cache serves this many tokens' rows.
constexpr int64_t kQueryBlock = 8;

// exp(row[j] - max) for j < n in place; returns 1 / Σ.
[[gnu::always_inline]] inline float softmax_in_place(float* row, int64_t n) {
  const float max_score = *std::max_element(row, row + n);
  const simd::VecF max_vec = simd::splat(max_score);
  simd::VecF sums = {};
  int64_t j = 0;
  for (; j + simd::kLanes <= n; j += simd::kLanes) {
    const simd::VecF e = simd::exp(simd::load(row + j) - max_vec);
    simd::store(row + j, e);
    sums += e;
  }
  float denominator = simd::sum(sums);
  for (; j < n; ++j) {
    row[j] = std::exp(row[j] - max_score);
    denominator += row[j];
  }
  return 1.0F / denominator;
}

// One unit: `count` consecutive tokens t0, t0 + 1, ... of sequence s at positions p0, p0 + 1,
// ..., kv head `kv_head`. Row r = i · group + g is token t0 + i's head g, and sees positions
// [0, p0 + i]. scores: scratch of count · group · (p0 + count + 1) floats: [rows, n]
// probabilities, then [rows] inverse softmax denominators.
SWIFTKV_CPU_CLONES void attend_unit(const Views& v, int64_t s, int64_t t0, int64_t p0,
                                    int64_t count, int64_t kv_head, float* scores,
                                    std::vector<const float*>& value_rows) {
  const int64_t n = p0 + count;  // positions the last token sees
  const int64_t group = v.num_heads / v.num_kv_heads;
  const int64_t d = v.head_dim;
  const int64_t rows = count * group;
  const int32_t* table = v.block_tables + s * v.max_blocks_per_seq;
  // Token t0 + i's heads of this group are adjacent: row r at token_offset(i) + g · d.
  const auto token_offset = [&](int64_t i) {
    return ((t0 + i) * v.num_heads + kv_head * group) * d;
  };

  // Scores 16 positions at a time: K rows of a tile, 16 dot products per query row at once.
  const float* keys[16];
  int64_t tile_first = 0;
  int64_t tile_size = 0;
  const auto flush_tile = [&] {
    for (int64_t t = tile_size; t < 16; ++t) {
      keys[t] = keys[0];  // padding lanes, not stored
    }
    for (int64_t i = std::max<int64_t>(0, tile_first - p0); i < count; ++i) {
      const float* q = v.q + token_offset(i);
      for (int64_t g = 0; g < group; ++g) {
        const simd::VecF s16 = simd::dot16(q + g * d, keys, d) * v.scale;
        std::memcpy(scores + (i * group + g) * n + tile_first, &s16,
                    static_cast<size_t>(tile_size) * sizeof(float));
      }
    }
    tile_first += tile_size;
    tile_size = 0;
  };
  for_each_position(v, table, kv_head, n, [&](int64_t, int64_t row) {
    keys[tile_size++] = v.k_cache + row;
    if (tile_size == 16) {
      flush_tile();
    }
  });
  if (tile_size > 0) {
    flush_tile();
  }
  float* inv_denominator = scores + rows * n;
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t g = 0; g < group; ++g) {
      inv_denominator[i * group + g] = softmax_in_place(scores + (i * group + g) * n, p0 + i + 1);
    }
  }
  // out = (Σ_j p_j V_j) / Σ_j p_j, row by row with the sums in registers, 64 (then 16) columns
  // at a time; the V rows (the cache block lookups done once) stay in L1/L2 across the rows.
  value_rows.clear();
  for_each_position(v, table, kv_head, n,
                    [&](int64_t, int64_t row) { value_rows.push_back(v.v_cache + row); });
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t g = 0; g < group; ++g) {
      const float* p = scores + (i * group + g) * n;
      const int64_t visible = p0 + i + 1;
      const simd::VecF inv = simd::splat(inv_denominator[i * group + g]);
      float* out = v.out + token_offset(i) + g * d;
      int64_t c = 0;
      for (; c + 4 * simd::kLanes <= d; c += 4 * simd::kLanes) {
        simd::VecF acc[4] = {};
        for (int64_t j = 0; j < visible; ++j) {
          const simd::VecF pj = simd::splat(p[j]);
          for (int64_t u = 0; u < 4; ++u) {
            acc[u] += pj * simd::load(value_rows[static_cast<size_t>(j)] + c + u * simd::kLanes);
          }
        }
        for (int64_t u = 0; u < 4; ++u) {
          simd::store(out + c + u * simd::kLanes, acc[u] * inv);
        }
      }
      for (; c + simd::kLanes <= d; c += simd::kLanes) {
        simd::VecF acc = {};
        for (int64_t j = 0; j < visible; ++j) {
          acc += simd::splat(p[j]) * simd::load(value_rows[static_cast<size_t>(j)] + c);
        }
        simd::store(out + c, acc * inv);
      }
      for (; c < d; ++c) {
        float acc = 0.0F;
        for (int64_t j = 0; j < visible; ++j) {
          acc += p[j] * value_rows[static_cast<size_t>(j)][c];
        }
        out[c] = acc * inv[0];
      }
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
  const int64_t num_seqs = kv_lens.dim(0);
  const int32_t* starts = query_start_loc.data<int32_t>();

  // Query blocks (first token, count) within sequences, the position of each block's first
  // token, and the total work, which decides how many threads to wake.
  struct Block {
    int32_t seq;
    int32_t first_token;
    int32_t first_position;
    int32_t count;
  };
  std::vector<Block> blocks;
  int64_t total_work = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t q_len = starts[s + 1] - starts[s];
    const int64_t first_position = kv_lens.data<int32_t>()[s] - q_len;
    for (int64_t i = 0; i < q_len; i += kQueryBlock) {
      const int64_t count = std::min(kQueryBlock, q_len - i);
      blocks.push_back({static_cast<int32_t>(s), static_cast<int32_t>(starts[s] + i),
                        static_cast<int32_t>(first_position + i), static_cast<int32_t>(count)});
    }
    for (int64_t i = 0; i < q_len; ++i) {
      total_work += (first_position + i + 1) * v.num_heads * v.head_dim * 2;
    }
  }
  const auto num_units = static_cast<int64_t>(blocks.size()) * v.num_kv_heads;
  const int64_t num_workers =
      std::clamp<int64_t>(total_work / kMinWorkPerChunk, 1, pool.num_threads());
  const int64_t group = v.num_heads / v.num_kv_heads;
  pool.parallel_for(num_workers, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    thread_local std::vector<const float*> value_rows;
    for (int64_t worker = begin; worker < end; ++worker) {
      for (int64_t unit = worker; unit < num_units; unit += num_workers) {
        const Block& b = blocks[static_cast<size_t>(unit / v.num_kv_heads)];
        scores.resize(static_cast<size_t>(b.count * group * (b.first_position + b.count + 1)));
        attend_unit(v, b.seq, b.first_token, b.first_position, b.count, unit % v.num_kv_heads,
                    scores.data(), value_rows);
      }
    }
  });
}

}  // namespace swiftkv::kernels::cpu
