// CUDA row gather (Phase B / lm_head row selection): exact copies.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cuda/gather_rows.h"

namespace swiftkv {
namespace {

using testing::bf16_ptr;
using testing::to_device;
using testing::to_host;

TEST(CudaGatherRows, CopiesSelectedRowsExactly) {
  // Row sizes in bytes: 16-byte path (8192, 32) and byte path (6, 4102).
  for (const int64_t row_bytes : {8192, 32, 6, 4102}) {
    SCOPED_TRACE(row_bytes);
    const int64_t rows = 50;
    std::mt19937 rng(static_cast<uint32_t>(row_bytes));
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<uint8_t> x(static_cast<size_t>(rows * row_bytes));
    for (uint8_t& b : x) {
      b = static_cast<uint8_t>(byte(rng));
    }
    const std::vector<int32_t> indices = {49, 0, 7, 7, 23, 48, 1};
    cuda::Stream stream;
    const cuda::DeviceBuffer d_x = to_device(x, stream.get());
    const cuda::DeviceBuffer d_indices = to_device(indices, stream.get());
    const cuda::DeviceBuffer d_out(indices.size() * static_cast<size_t>(row_bytes));
    cuda::gather_rows(stream.get(), d_out.data(), d_x.data(), d_indices.as<int32_t>(),
                      static_cast<int64_t>(indices.size()), row_bytes);
    const std::vector<uint8_t> out =
        to_host<uint8_t>(d_out, indices.size() * static_cast<size_t>(row_bytes), stream.get());
    for (size_t i = 0; i < indices.size(); ++i) {
      for (int64_t b = 0; b < row_bytes; ++b) {
        ASSERT_EQ(out[i * static_cast<size_t>(row_bytes) + static_cast<size_t>(b)],
                  x[static_cast<size_t>(indices[i] * row_bytes + b)])
            << "row " << i << " byte " << b;
      }
    }
  }
}

}  // namespace
}  // namespace swiftkv
