// Paged KV cache write: cache[slot] = k[t] (and v) for slot = slot_mapping[t] != -1, where
// slot = block * block_size + offset_in_block, i.e. the cache viewed as
// [num_blocks * block_size, num_kv_heads * head_dim] rows.
#include "kernels/cpu/write_kv_cache.h"

#include <cstring>

#include "kernels/cpu/parallel.h"

namespace swiftkv::kernels::cpu {

void write_kv_cache(ThreadPool& pool, const Tensor& k_cache, const Tensor& v_cache, const Tensor& k,
                    const Tensor& v, const Tensor& slot_mapping) {
  const int64_t row = k.dim(1) * k.dim(2);  // num_kv_heads * head_dim
  const auto row_bytes = static_cast<size_t>(row) * sizeof(float);
  pool.parallel_for(
      k.dim(0),
      [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          const int64_t slot = slot_mapping.data<int32_t>()[t];
          if (slot >= 0) {
            std::memcpy(k_cache.data<float>() + slot * row, k.data<float>() + t * row, row_bytes);
            std::memcpy(v_cache.data<float>() + slot * row, v.data<float>() + t * row, row_bytes);
          }
        }
      },
      min_items_per_chunk(2 * row));
}

namespace ref {

void write_kv_cache(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v,
                    const Tensor& slot_mapping) {
  const int64_t num_tokens = k.dim(0);
  const int64_t row = k.dim(1) * k.dim(2);
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t slot = slot_mapping.data<int32_t>()[t];
    if (slot < 0) {
      continue;
    }
    for (int64_t i = 0; i < row; ++i) {
      k_cache.data<float>()[slot * row + i] = k.data<float>()[t * row + i];
      v_cache.data<float>()[slot * row + i] = v.data<float>()[t * row + i];
    }
  }
}

}  // namespace ref
}  // namespace swiftkv::kernels::cpu
