// CUDA row gather (Phase B / lm_head row selection) and the indexed token copy of pipelined
// steps: exact copies. Also the pinned staging of step-loop uploads and downloads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "core/error.h"
#include "cuda_test_util.h"
#include "kernels/cuda/backend.h"
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

TEST(CudaCopyTokens, CopiesIndexedTokensExactly) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> token(0, 128255);
  std::vector<int32_t> ids(300);
  std::vector<int32_t> source(64);
  for (int32_t& t : ids) {
    t = token(rng);
  }
  for (int32_t& t : source) {
    t = token(rng);
  }
  std::vector<int32_t> rows(ids.size());
  std::iota(rows.begin(), rows.end(), 0);
  std::shuffle(rows.begin(), rows.end(), rng);
  std::vector<int32_t> pairs;  // 41 distinct destinations, random sources
  for (int i = 0; i < 41; ++i) {
    pairs.push_back(rows[static_cast<size_t>(i)]);
    pairs.push_back(static_cast<int32_t>(rng() % source.size()));
  }
  std::vector<int32_t> expected = ids;
  for (size_t i = 0; i < pairs.size(); i += 2) {
    expected[static_cast<size_t>(pairs[i])] = source[static_cast<size_t>(pairs[i + 1])];
  }
  cuda::Stream stream;
  const cuda::DeviceBuffer d_ids = to_device(ids, stream.get());
  const cuda::DeviceBuffer d_source = to_device(source, stream.get());
  const cuda::DeviceBuffer d_pairs = to_device(pairs, stream.get());
  cuda::copy_tokens(stream.get(), d_ids.as<int32_t>(), d_source.as<int32_t>(),
                    d_pairs.as<int32_t>(), static_cast<int64_t>(pairs.size() / 2));
  EXPECT_EQ(to_host<int32_t>(d_ids, ids.size(), stream.get()), expected);
}

// Host sources are staged, so they may change right after copy() returns; downloads land in
// pinned slots that stay valid for 3 more downloads, and an older ticket is refused.
TEST(CudaStaging, UploadsAndDownloadsThroughPinnedMemory) {
  const cuda::CudaContextPtr context = cuda::create_context();
  std::mt19937 rng(11);
  std::vector<std::vector<int32_t>> sent;
  std::vector<Tensor> device;
  std::vector<int64_t> tickets;
  for (int i = 0; i < 12; ++i) {
    std::vector<int32_t> values(static_cast<size_t>(1000 * (i + 1)));  // slots grow
    for (int32_t& v : values) {
      v = static_cast<int32_t>(rng());
    }
    const auto n = static_cast<int64_t>(values.size());
    Tensor host = Tensor::from_i32({n}, values);
    device.push_back(cuda::device_empty({n}, DType::kI32));
    cuda::copy(*context, device.back(), host);
    std::fill_n(host.data<int32_t>(), n, -1);  // the queued copy must not see this
    sent.push_back(values);
    tickets.push_back(cuda::start_download(*context, device.back()));
    if (tickets.size() > 3) {  // keep 3 pending
      const size_t j = tickets.size() - 4;
      const Tensor out = Tensor::empty({static_cast<int64_t>(sent[j].size())}, DType::kI32);
      cuda::finish_download(*context, tickets[j], out);
      EXPECT_EQ(std::vector<int32_t>(out.data<int32_t>(), out.data<int32_t>() + out.numel()),
                sent[j])
          << "download " << j;
    }
  }
  for (int i = 0; i < 4; ++i) {
    tickets.push_back(cuda::start_download(*context, device.back()));
  }
  const Tensor out = Tensor::empty({static_cast<int64_t>(sent[9].size())}, DType::kI32);
  EXPECT_THROW(cuda::finish_download(*context, tickets[9], out), Error);
}

}  // namespace
}  // namespace swiftkv
