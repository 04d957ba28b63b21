#include "engine/device_sampler.h"

#include <bit>
#include <cstring>

#include "core/error.h"
#include "ops/device.h"
#include "ops/sample_tokens.h"

namespace swiftkv {
namespace {

// The parameter words of n rows, packed column after column: temperature, top_k, top_p, min_p
// (one 32-bit word per row each), then seed and offset (two words per row each).
constexpr int64_t kTemperature = 0;
constexpr int64_t kTopK = 1;
constexpr int64_t kTopP = 2;
constexpr int64_t kMinP = 3;
constexpr int64_t kSeed = 4;    // words [4n, 6n)
constexpr int64_t kOffset = 6;  // words [6n, 8n)
constexpr int64_t kNumWords = 8;

}  // namespace

DeviceSampler::DeviceSampler(const ops::Context& ctx, int64_t max_rows)
    : ctx_(ctx),
      max_rows_(max_rows),
      tokens_(ops::device_empty(ctx, {max_rows}, DType::kI32)),
      params_(ops::device_empty(ctx, {kNumWords * max_rows}, DType::kI32)) {
  SWIFTKV_CHECK(max_rows >= 1, "DeviceSampler needs max_rows >= 1, got ", max_rows);
  // Valid token ids from the start: a step queued after one whose sampling failed reads them.
  ops::fill_zero(ctx, tokens_);
}

void DeviceSampler::launch(const Tensor& logits, const std::vector<DeviceSampleRow>& rows) {
  const int64_t n = logits.dim(0);
  SWIFTKV_CHECK(static_cast<int64_t>(rows.size()) == n && n <= max_rows_, "sampling ", n,
                " rows with ", rows.size(), " parameter rows, room for ", max_rows_);
  SWIFTKV_CHECK(downloads_.size() < 3, "DeviceSampler: ", downloads_.size(),
                " launches not collected");
  const Tensor tokens = tokens_.rows(0, n);
  if (n == 0) {
    downloads_.push_back(ops::download_async(ctx_, tokens));
    return;
  }
  // Host image of the first n rows of each column, packed: [kNumWords * n] words.
  std::vector<int32_t> words(static_cast<size_t>(kNumWords * n), 0);
  const auto at = [&](int64_t column, int64_t row) -> int32_t& {
    return words[static_cast<size_t>(column * n + row)];
  };
  for (int64_t i = 0; i < n; ++i) {
    const DeviceSampleRow& row = rows[static_cast<size_t>(i)];
    if (row.sampler == nullptr) {
      at(kTemperature, i) = std::bit_cast<int32_t>(0.0F);
      at(kTopP, i) = std::bit_cast<int32_t>(1.0F);
      continue;
    }
    const SamplingParams& p = row.sampler->params();
    at(kTemperature, i) = std::bit_cast<int32_t>(p.temperature);
    at(kTopK, i) = p.top_k;
    at(kTopP, i) = std::bit_cast<int32_t>(p.top_p);
    at(kMinP, i) = std::bit_cast<int32_t>(p.min_p);
    const uint64_t seed = row.sampler->draw_seed();
    const auto offset = static_cast<uint64_t>(row.offset);
    std::memcpy(&at(kSeed, 2 * i), &seed, sizeof(seed));
    std::memcpy(&at(kOffset, 2 * i), &offset, sizeof(offset));
  }
  const Tensor device = params_.rows(0, kNumWords * n);
  ops::copy(ctx_, device, Tensor::from_i32({kNumWords * n}, words));
  // A column as a device tensor (params_ keeps the memory alive).
  const auto column = [&](int64_t first, int64_t words_per_row, DType dtype) {
    const Tensor t = device.rows(first * n, (first + words_per_row) * n);
    return Tensor::wrap(t.raw(), words_per_row == 1 ? Shape{n} : Shape{n, 2}, dtype, Device::kCuda,
                        nullptr);
  };
  ops::sample_tokens(ctx_, tokens, logits,
                     {.temperatures = column(kTemperature, 1, DType::kF32),
                      .top_k = column(kTopK, 1, DType::kI32),
                      .top_p = column(kTopP, 1, DType::kF32),
                      .min_p = column(kMinP, 1, DType::kF32),
                      .seeds = column(kSeed, 2, DType::kI32),
                      .offsets = column(kOffset, 2, DType::kI32)});
  downloads_.push_back(ops::download_async(ctx_, tokens));
}

std::vector<int32_t> DeviceSampler::collect() {
  SWIFTKV_CHECK(!downloads_.empty(), "DeviceSampler::collect without a launch");
  ops::PendingDownload download = std::move(downloads_.front());
  downloads_.pop_front();
  const Tensor host = download.wait();
  return {host.data<const int32_t>(), host.data<const int32_t>() + host.numel()};
}

std::vector<int32_t> DeviceSampler::sample(const Tensor& logits,
                                           const std::vector<DeviceSampleRow>& rows,
                                           const std::function<void()>& while_device_runs) {
  launch(logits, rows);
  if (while_device_runs) {
    while_device_runs();
  }
  return collect();
}

}  // namespace swiftkv
