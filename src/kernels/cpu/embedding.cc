// Embedding lookup: out[t, :] = table[ids[t], :] (reference and fast versions).
#include "kernels/cpu/embedding.h"

#include "kernels/cpu/convert.h"
#include "kernels/cpu/parallel.h"

namespace swiftkv::kernels::cpu {
namespace {

const void* table_row(const Tensor& table, int32_t id) {
  const int64_t hidden_size = table.dim(1);
  return static_cast<const char*>(table.raw()) +
         static_cast<size_t>(id) * static_cast<size_t>(hidden_size) * dtype_size(table.dtype());
}

}  // namespace

void embedding(ThreadPool& pool, const Tensor& out, const Tensor& table, const Tensor& ids) {
  const int64_t hidden_size = table.dim(1);
  const int32_t* id = ids.data<int32_t>();
  float* dst = out.data<float>();
  pool.parallel_for(
      ids.dim(0),
      [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          convert_to_f32(table.dtype(), table_row(table, id[t]), dst + t * hidden_size,
                         hidden_size);
        }
      },
      min_items_per_chunk(hidden_size));
}

namespace ref {

void embedding(const Tensor& out, const Tensor& table, const Tensor& ids) {
  const int64_t num_tokens = ids.dim(0);
  const int64_t hidden_size = table.dim(1);
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int32_t id = ids.data<int32_t>()[t];
    for (int64_t i = 0; i < hidden_size; ++i) {
      out.data<float>()[t * hidden_size + i] =
          element_to_f32(table.dtype(), table.raw(), id * hidden_size + i);
    }
  }
}

}  // namespace ref
}  // namespace swiftkv::kernels::cpu
