// How a model is split over tensor-parallel ranks (model/tensor_parallel.h): the ranks' slices
// partition heads, intermediate features and vocabulary; each rank's query heads read only the K/V
// heads it holds; bad sizes are refused with the reason.
#include "model/tensor_parallel.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "model/random_model.h"

namespace swiftkv {
namespace {

ModelConfig shape(const std::string& name) { return random_model_config({.shape = name}); }

void expect_partition(const ModelConfig& c, int64_t size) {
  SCOPED_TRACE(::testing::Message() << "size " << size);
  int64_t next_head = 0;
  int64_t next_inter = 0;
  int64_t next_token = 0;
  const int64_t group = c.num_attention_heads / c.num_key_value_heads;  // query heads per KV head
  for (int64_t r = 0; r < size; ++r) {
    const TensorParallelShard s = TensorParallelShard::of(c, r, size);
    EXPECT_EQ(s.first_head, next_head);
    EXPECT_EQ(s.first_intermediate, next_inter);
    EXPECT_EQ(s.vocab_begin, next_token);
    next_head += s.num_heads;
    next_inter += s.intermediate_size;
    next_token = s.vocab_end;
    EXPECT_LE(s.vocab_end - s.vocab_begin, s.vocab_shard_rows);
    // Every query head of the rank reads a K/V head the rank holds, at the local index the GQA
    // mapping of the local config gives (local head h uses local KV head h / local group).
    const ModelConfig local = s.local_config(c);
    EXPECT_NO_THROW(local.validate());
    const int64_t local_group = local.num_attention_heads / local.num_key_value_heads;
    for (int64_t h = 0; h < s.num_heads; ++h) {
      const int64_t global_kv = (s.first_head + h) / group;
      EXPECT_EQ(global_kv, s.first_kv_head + h / local_group) << "rank " << r << " head " << h;
    }
  }
  EXPECT_EQ(next_head, c.num_attention_heads);
  EXPECT_EQ(next_inter, c.intermediate_size);
  EXPECT_EQ(next_token, c.vocab_size);
}

TEST(TensorParallelShard, PartitionsLlama8BAnd70B) {
  for (const int64_t size : {1, 2, 4, 8}) {
    expect_partition(shape("llama-3.1-8b"), size);
    expect_partition(shape("llama-3.1-70b"), size);
  }
  const TensorParallelShard s = TensorParallelShard::of(shape("llama-3.1-70b"), 3, 4);
  EXPECT_EQ(s.num_heads, 16);
  EXPECT_EQ(s.num_kv_heads, 2);
  EXPECT_EQ(s.first_kv_head, 6);
  EXPECT_EQ(s.intermediate_size, 7168);
  EXPECT_EQ(s.vocab_shard_rows, 32064);
}

TEST(TensorParallelShard, ReplicatesKvHeadsBeyondTheirCount) {
  const ModelConfig c = shape("llama-3.1-8b");  // 32 heads, 8 KV heads
  expect_partition(c, 16);
  for (int64_t r = 0; r < 16; ++r) {
    const TensorParallelShard s = TensorParallelShard::of(c, r, 16);
    EXPECT_EQ(s.num_kv_heads, 1);
    EXPECT_EQ(s.first_kv_head, r / 2);
  }
}

TEST(TensorParallelShard, PadsTheLastVocabularyShard) {
  ModelConfig c = shape("llama-100m");
  c.vocab_size = 1001;
  expect_partition(c, 4);
  const TensorParallelShard last = TensorParallelShard::of(c, 3, 4);
  EXPECT_EQ(last.vocab_shard_rows, 251);
  EXPECT_EQ(last.vocab_end - last.vocab_begin, 248);
}

TEST(TensorParallelShard, RefusesSizesThatDoNotDivideTheModel) {
  const ModelConfig c = shape("llama-3.1-8b");
  const auto message = [&](int64_t rank, int64_t size) {
    try {
      TensorParallelShard::of(c, rank, size);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(0, 3).find("num_attention_heads (32)"), std::string::npos) << message(0, 3);
  EXPECT_NE(message(0, 0).find("size must be >= 1"), std::string::npos) << message(0, 0);
  EXPECT_NE(message(2, 2).find("rank 2 of 2"), std::string::npos) << message(2, 2);
  ModelConfig odd_kv = shape("llama-100m");                    // 12 heads, 4 KV heads
  EXPECT_THROW(TensorParallelShard::of(odd_kv, 0, 6), Error);  // 6 > 4 and 6 % 4 != 0
}

}  // namespace
}  // namespace swiftkv
