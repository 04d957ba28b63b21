// Row gather: out[i, :] = x[indices[i], :] (reference and fast versions; pure copies).
#include "kernels/cpu/gather_rows.h"

#include <cstring>

#include "kernels/cpu/parallel.h"

namespace swiftkv::kernels::cpu {

void gather_rows(ThreadPool& pool, const Tensor& out, const Tensor& x, const Tensor& indices) {
  const int64_t row_size = x.dim(1);
  const auto* index = indices.data<const int32_t>();
  const auto* src = x.data<const float>();
  auto* dst = out.data<float>();
  pool.parallel_for(
      indices.dim(0),
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          std::memcpy(dst + i * row_size, src + index[i] * row_size,
                      static_cast<size_t>(row_size) * sizeof(float));
        }
      },
      min_items_per_chunk(row_size));
}

namespace ref {

void gather_rows(const Tensor& out, const Tensor& x, const Tensor& indices) {
  const int64_t row_size = x.dim(1);
  for (int64_t i = 0; i < indices.dim(0); ++i) {
    const int64_t row = indices.data<const int32_t>()[i];
    for (int64_t j = 0; j < row_size; ++j) {
      out.data<float>()[i * row_size + j] = x.data<const float>()[row * row_size + j];
    }
  }
}

}  // namespace ref
}  // namespace swiftkv::kernels::cpu
