#include "model/tensor_parallel.h"

#include "core/error.h"

namespace swiftkv {

TensorParallelShard TensorParallelShard::of(const ModelConfig& config, int64_t rank, int64_t size) {
  if (size < 1 || rank < 0 || rank >= size) {
    throw Error(str_cat("tensor parallelism: rank ", rank, " of ", size,
                        " (the size must be >= 1 and the rank in [0, size))"));
  }
  const int64_t heads = config.num_attention_heads;
  const int64_t kv_heads = config.num_key_value_heads;
  const auto require = [&](bool ok, std::string_view what, int64_t value) {
    if (!ok) {
      throw Error(str_cat("--tensor-parallel-size ", size, " does not divide the model: ", what,
                          " (", value, ")"));
    }
  };
  require(heads % size == 0, "num_attention_heads", heads);
  require(config.intermediate_size % size == 0, "intermediate_size", config.intermediate_size);
  if (size <= kv_heads) {
    require(kv_heads % size == 0, "num_key_value_heads", kv_heads);
  } else {
    require(size % kv_heads == 0, "num_key_value_heads (replicated: size must be a multiple)",
            kv_heads);
  }

  TensorParallelShard s;
  s.rank = rank;
  s.size = size;
  s.num_heads = heads / size;
  s.first_head = rank * s.num_heads;
  if (size <= kv_heads) {
    s.num_kv_heads = kv_heads / size;
    s.first_kv_head = rank * s.num_kv_heads;
  } else {
    s.num_kv_heads = 1;
    s.first_kv_head = rank / (size / kv_heads);
  }
  s.intermediate_size = config.intermediate_size / size;
  s.first_intermediate = rank * s.intermediate_size;
  s.vocab_shard_rows = (config.vocab_size + size - 1) / size;
  s.vocab_begin = std::min(config.vocab_size, rank * s.vocab_shard_rows);
  s.vocab_end = std::min(config.vocab_size, s.vocab_begin + s.vocab_shard_rows);
  return s;
}

ModelConfig TensorParallelShard::local_config(const ModelConfig& full) const {
  ModelConfig local = full;
  local.num_attention_heads = num_heads;
  local.num_key_value_heads = num_kv_heads;
  local.intermediate_size = intermediate_size;
  return local;
}

}  // namespace swiftkv
