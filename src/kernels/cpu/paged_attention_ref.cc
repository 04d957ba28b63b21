// Reference paged attention: for each sequence s, query row i (at position
// p = kv_lens[s] - q_len(s) + i, bottom-right causal alignment) and query head h:
//   score[j] = scale · q · K[j] for cache positions j <= p, read through block_tables[s];
//   out = sum_j softmax(score)[j] · V[j], with K/V of kv head h / (num_heads / num_kv_heads).
// Everything in f64, the softmax max-subtracted.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/paged_attention.h"

namespace swiftkv::kernels::cpu::ref {

void paged_attention(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const Tensor& query_start_loc, const Tensor& kv_lens,
                     const Tensor& block_tables, float scale) {
  const int64_t num_heads = q.dim(1);
  const int64_t head_dim = q.dim(2);
  const int64_t block_size = k_cache.dim(1);
  const int64_t num_kv_heads = k_cache.dim(2);
  const int64_t group = num_heads / num_kv_heads;
  const int64_t num_seqs = kv_lens.dim(0);
  const int64_t max_blocks = block_tables.dim(1);
  const int32_t* starts = query_start_loc.data<int32_t>();

  // Row of (position j, kv head) in a cache of sequence s: [head_dim] floats.
  auto cache_row = [&](const Tensor& cache, int64_t s, int64_t j, int64_t kv_head) {
    const int64_t block = block_tables.data<int32_t>()[s * max_blocks + j / block_size];
    const int64_t slot = block * block_size + j % block_size;
    return cache.data<float>() + (slot * num_kv_heads + kv_head) * head_dim;
  };

  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t q_len = starts[s + 1] - starts[s];
    const int64_t kv_len = kv_lens.data<int32_t>()[s];
    for (int64_t i = 0; i < q_len; ++i) {
      const int64_t t = starts[s] + i;
      const int64_t position = kv_len - q_len + i;
      for (int64_t h = 0; h < num_heads; ++h) {
        const int64_t kv_head = h / group;
        const float* qh = q.data<float>() + (t * num_heads + h) * head_dim;
        std::vector<double> scores(static_cast<size_t>(position + 1));
        for (int64_t j = 0; j <= position; ++j) {
          const float* kj = cache_row(k_cache, s, j, kv_head);
          double dot = 0.0;
          for (int64_t d = 0; d < head_dim; ++d) {
            dot += static_cast<double>(qh[d]) * kj[d];
          }
          scores[static_cast<size_t>(j)] = dot * scale;
        }
        const double max_score = *std::max_element(scores.begin(), scores.end());
        double denominator = 0.0;
        for (double& score : scores) {
          score = std::exp(score - max_score);
          denominator += score;
        }
        for (int64_t d = 0; d < head_dim; ++d) {
          double acc = 0.0;
          for (int64_t j = 0; j <= position; ++j) {
            acc += scores[static_cast<size_t>(j)] * cache_row(v_cache, s, j, kv_head)[d];
          }
          out.data<float>()[(t * num_heads + h) * head_dim + d] =
              static_cast<float>(acc / denominator);
        }
      }
    }
  }
}

}  // namespace swiftkv::kernels::cpu::ref
