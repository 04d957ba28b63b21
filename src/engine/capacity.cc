#include "engine/capacity.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "ops/device.h"

namespace swiftkv {

int64_t plan_num_blocks(const LlamaModel& model, int64_t kv_cache_memory_bytes, int64_t block_size,
                        int64_t max_model_len) {
  if (block_size < 1) {
    throw Error(str_cat("the KV cache block size must be >= 1, got ", block_size));
  }
  if (max_model_len <= 0) {
    max_model_len = model.config().max_position_embeddings;
  }
  const int64_t bytes_per_block = block_size * model.cache_shape(1, block_size).bytes_per_token();
  const int64_t num_blocks = kv_cache_memory_bytes / bytes_per_block;
  const int64_t needed_blocks = (max_model_len + block_size - 1) / block_size;
  if (num_blocks < needed_blocks) {
    throw Error(str_cat("the KV cache memory of ", kv_cache_memory_bytes, " bytes holds ",
                        num_blocks, " blocks of ", block_size, " tokens (", bytes_per_block,
                        " bytes each), less than one sequence of max_model_len ", max_model_len,
                        " tokens (", needed_blocks * bytes_per_block,
                        " bytes): give the cache more memory or lower max_model_len"));
  }
  return num_blocks;
}

namespace {

// The profiling step: `num_tokens` prompt tokens (token id 0) in sequences of up to `max_len`
// tokens, at most `max_seqs` of them, each on its own consecutive blocks, each needing logits.
// Returns the batch and the number of blocks it uses.
std::pair<BatchView, int64_t> profiling_batch(int64_t num_tokens, int64_t max_len, int64_t max_seqs,
                                              int64_t block_size) {
  std::vector<int64_t> lengths;
  for (int64_t left = num_tokens; left > 0 && static_cast<int64_t>(lengths.size()) < max_seqs;) {
    lengths.push_back(std::min(left, max_len));
    left -= lengths.back();
  }
  const auto num_seqs = static_cast<int64_t>(lengths.size());
  int64_t max_blocks = 1;
  for (const int64_t len : lengths) {
    max_blocks = std::max(max_blocks, (len + block_size - 1) / block_size);
  }
  std::vector<int32_t> positions;
  std::vector<int32_t> slots;
  std::vector<int32_t> query_start = {0};
  std::vector<int32_t> kv_lens;
  std::vector<int32_t> tables(static_cast<size_t>(num_seqs * max_blocks), 0);
  int64_t next_block = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t len = lengths[static_cast<size_t>(s)];
    const int64_t first_block = next_block;
    for (int64_t pos = 0; pos < len; ++pos) {
      positions.push_back(static_cast<int32_t>(pos));
      slots.push_back(
          static_cast<int32_t>((first_block + pos / block_size) * block_size + pos % block_size));
    }
    const int64_t blocks = (len + block_size - 1) / block_size;
    for (int64_t b = 0; b < blocks; ++b) {
      tables[static_cast<size_t>(s * max_blocks + b)] = static_cast<int32_t>(first_block + b);
    }
    next_block += blocks;
    query_start.push_back(static_cast<int32_t>(positions.size()));
    kv_lens.push_back(static_cast<int32_t>(len));
  }
  const auto n = static_cast<int64_t>(positions.size());
  BatchView batch;
  batch.token_ids = Tensor::from_i32({n}, std::vector<int32_t>(static_cast<size_t>(n), 0));
  batch.positions = Tensor::from_i32({n}, positions);
  batch.slot_mapping = Tensor::from_i32({n}, slots);
  batch.attention.query_start_loc = Tensor::from_i32({num_seqs + 1}, query_start);
  batch.attention.kv_lens = Tensor::from_i32({num_seqs}, kv_lens);
  batch.attention.block_tables = Tensor::from_i32({num_seqs, max_blocks}, tables);
  batch.num_logits = Tensor::from_i32({num_seqs}, std::vector<int32_t>(lengths.size(), 1));
  return {std::move(batch), next_block};
}

}  // namespace

GpuCachePlan plan_gpu_num_blocks(StepModel& model, double utilization, int64_t block_size,
                                 int64_t max_model_len, int64_t max_num_batched_tokens,
                                 int64_t max_num_seqs) {
  const ops::Context& ctx = model.context();
  if (!(utilization > 0.0 && utilization <= 1.0)) {
    throw Error(str_cat("--gpu-memory-utilization must be in (0, 1], got ", utilization));
  }
  if (block_size < 1 || max_model_len < 2 || max_num_batched_tokens < 1 || max_num_seqs < 1) {
    throw Error(str_cat("bad KV cache planning input: block_size ", block_size, ", max_model_len ",
                        max_model_len, ", max_num_batched_tokens ", max_num_batched_tokens,
                        ", max_num_seqs ", max_num_seqs));
  }
  {
    auto [batch, num_blocks] =
        profiling_batch(max_num_batched_tokens, max_model_len - 1, max_num_seqs, block_size);
    const KvCache scratch = model.allocate_cache(num_blocks, block_size);
    model.forward(batch, scratch);
    ops::synchronize(ctx);
  }  // the scratch cache is freed here
  ops::synchronize(ctx);
  const ops::DeviceMemoryInfo memory = ops::device_memory_info(ctx);
  GpuCachePlan plan;
  plan.total_bytes = memory.total_bytes;
  plan.used_bytes = memory.total_bytes - memory.free_bytes;
  plan.bytes_per_block = block_size * model.cache_shape(1, block_size).bytes_per_token();
  const auto budget =
      static_cast<int64_t>(static_cast<double>(memory.total_bytes) * utilization) - plan.used_bytes;
  plan.num_blocks = std::max<int64_t>(budget, 0) / plan.bytes_per_block;
  const int64_t needed_blocks = (max_model_len + block_size - 1) / block_size;
  if (plan.num_blocks < needed_blocks) {
    throw Error(
        str_cat("the GPU has no room for the KV cache of one sequence of max_model_len ",
                max_model_len, " tokens (", needed_blocks * plan.bytes_per_block / 1048576,
                " MiB): ", plan.used_bytes / 1048576, " MiB of ", plan.total_bytes / 1048576,
                " MiB are in use after loading and profiling, and --gpu-memory-utilization ",
                utilization, " leaves ", std::max<int64_t>(budget, 0) / 1048576,
                " MiB; raise --gpu-memory-utilization or lower --max-model-len, "
                "--max-num-batched-tokens or --max-num-seqs"));
  }
  return plan;
}

}  // namespace swiftkv
