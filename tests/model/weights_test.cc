// ModelWeights::from_store on a tiny synthetic model: required tensor set (plain, tied, SwiftKV
// leaders only), and missing / mis-shaped / wrongly typed tensors naming the tensor.
#include "model/weights.h"

#include <gtest/gtest.h>

#include "io_test_util.h"
#include "model/tensor_names.h"
#include "model/weight_store.h"

namespace swiftkv {
namespace {

namespace names = tensor_names;

// vocab 16, hidden 8, intermediate 12, 3 layers, 2 heads of 4, 1 KV head.
ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab_size = 16;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  c.num_key_value_layers = 3;
  return c;
}

ModelConfig tiny_swiftkv_config(int64_t l, int64_t g) {
  ModelConfig c = tiny_config();
  c.architecture = Architecture::kLlamaSwiftKV;
  c.swiftkv = true;
  c.num_key_value_layers = l;
  c.key_value_group_size = g;
  c.validate();
  return c;
}

// Every tensor `c` needs, zero-filled f32 with the right shapes.
NamedTensors tiny_tensors(const ModelConfig& c) {
  const int64_t h = c.hidden_size;
  const int64_t q = c.num_attention_heads * c.head_dim;
  const int64_t kv = c.num_key_value_heads * c.head_dim;
  const int64_t f = c.intermediate_size;
  NamedTensors t;
  const auto add = [&](std::string name, Shape shape) {
    t.emplace_back(std::move(name), Tensor::zeros(std::move(shape), DType::kF32));
  };
  add(std::string(names::kEmbedTokens), {c.vocab_size, h});
  add(std::string(names::kNorm), {h});
  if (!c.tie_word_embeddings) {
    add(std::string(names::kLmHead), {c.vocab_size, h});
  }
  for (int64_t j = 0; j < c.num_hidden_layers; ++j) {
    add(names::layer(j, names::kInputLayernorm), {h});
    add(names::layer(j, names::kQProj), {q, h});
    add(names::layer(j, names::kKProj), {kv, h});
    add(names::layer(j, names::kVProj), {kv, h});
    add(names::layer(j, names::kOProj), {h, q});
    add(names::layer(j, names::kPostAttentionLayernorm), {h});
    add(names::layer(j, names::kGateProj), {f, h});
    add(names::layer(j, names::kUpProj), {f, h});
    add(names::layer(j, names::kDownProj), {h, f});
    if (c.architecture == Architecture::kLlamaSwiftKV && j >= c.num_key_value_layers) {
      add(names::layer(j, names::kQProjSwiftKV), {q, h});
      if ((j - c.num_key_value_layers) % c.key_value_group_size == 0) {
        add(names::layer(j, names::kKProjSwiftKV), {kv, h});
        add(names::layer(j, names::kVProjSwiftKV), {kv, h});
      }
    }
  }
  if (c.architecture == Architecture::kLlamaSwiftKV) {
    add(std::string(names::kNormSwiftKV), {h});
  }
  return t;
}

NamedTensors without(NamedTensors t, const std::string& name) {
  std::erase_if(t, [&](const auto& named) { return named.first == name; });
  return t;
}

NamedTensors replaced(NamedTensors t, const std::string& name, Tensor value) {
  for (auto& named : t) {
    if (named.first == name) {
      named.second = std::move(value);
    }
  }
  return t;
}

TEST(ModelWeights, LoadsPlainModel) {
  const ModelConfig c = tiny_config();
  const ModelWeights w =
      ModelWeights::from_store(c, WeightStore::from_tensors(tiny_tensors(c), "tiny"));
  ASSERT_EQ(w.layers.size(), 3U);
  EXPECT_EQ(w.layers[2].down_proj.shape(), (Shape{8, 12}));
  EXPECT_NE(w.lm_head.raw(), w.embed_tokens.raw());
  EXPECT_FALSE(w.layers[2].q_proj_swiftkv.defined());
  EXPECT_FALSE(w.norm_swiftkv.defined());
}

TEST(ModelWeights, TiedLmHeadIsTheEmbedding) {
  ModelConfig c = tiny_config();
  c.tie_word_embeddings = true;
  const ModelWeights w =
      ModelWeights::from_store(c, WeightStore::from_tensors(tiny_tensors(c), "tiny"));
  EXPECT_EQ(w.lm_head.raw(), w.embed_tokens.raw());
  // A stored lm_head.weight is ignored when tied, even a mis-shaped one.
  NamedTensors t = tiny_tensors(c);
  t.emplace_back(std::string(names::kLmHead), Tensor::zeros({3}, DType::kF32));
  const ModelWeights w2 = ModelWeights::from_store(c, WeightStore::from_tensors(t, "tiny"));
  EXPECT_EQ(w2.lm_head.raw(), w2.embed_tokens.raw());
}

TEST(ModelWeights, AcceptsMixedFloatDtypes) {
  const ModelConfig c = tiny_config();
  NamedTensors t = replaced(tiny_tensors(c), names::layer(1, names::kQProj),
                            Tensor::zeros({8, 8}, DType::kBF16));
  t = replaced(t, std::string(names::kNorm), Tensor::zeros({8}, DType::kF16));
  const ModelWeights w = ModelWeights::from_store(c, WeightStore::from_tensors(t, "tiny"));
  EXPECT_EQ(w.layers[1].q_proj.dtype(), DType::kBF16);
  EXPECT_EQ(w.norm.dtype(), DType::kF16);
}

TEST(ModelWeights, SwiftKVTensorsOnlyOnLeaders) {
  const ModelConfig c = tiny_swiftkv_config(/*l=*/1, /*g=*/2);
  const ModelWeights w =
      ModelWeights::from_store(c, WeightStore::from_tensors(tiny_tensors(c), "tiny"));
  EXPECT_TRUE(w.norm_swiftkv.defined());
  EXPECT_FALSE(w.layers[0].q_proj_swiftkv.defined());
  EXPECT_TRUE(w.layers[1].q_proj_swiftkv.defined());
  EXPECT_TRUE(w.layers[1].k_proj_swiftkv.defined());
  EXPECT_TRUE(w.layers[1].v_proj_swiftkv.defined());
  EXPECT_TRUE(w.layers[2].q_proj_swiftkv.defined());
  EXPECT_FALSE(w.layers[2].k_proj_swiftkv.defined());
  EXPECT_FALSE(w.layers[2].v_proj_swiftkv.defined());

  const ModelConfig g1 = tiny_swiftkv_config(/*l=*/1, /*g=*/1);
  const std::string missing = names::layer(2, names::kKProjSwiftKV);
  EXPECT_ERROR_WITH(
      ModelWeights::from_store(g1, WeightStore::from_tensors(tiny_tensors(c), "tiny")),
      "missing tensor '" + missing + "' in tiny");
  EXPECT_ERROR_WITH(ModelWeights::from_store(
                        c, WeightStore::from_tensors(
                               without(tiny_tensors(c), std::string(names::kNormSwiftKV)), "tiny")),
                    "missing tensor 'model.norm_swiftkv.weight'");
}

TEST(ModelWeights, MissingTensor) {
  const ModelConfig c = tiny_config();
  const WeightStore store =
      WeightStore::from_tensors(without(tiny_tensors(c), "model.norm.weight"), "/models/tiny");
  EXPECT_ERROR_WITH(ModelWeights::from_store(c, store),
                    "missing tensor 'model.norm.weight' in /models/tiny");
}

TEST(ModelWeights, WrongShapeFromCheckpointFile) {
  const ModelConfig c = tiny_config();
  io_test::TempDir dir;
  save_checkpoint_tensors(dir.path(), replaced(tiny_tensors(c), "model.layers.2.mlp.up_proj.weight",
                                               Tensor::zeros({8, 12}, DType::kF32)));
  EXPECT_ERROR_WITH(
      ModelWeights::from_store(c, WeightStore::open(dir.path())),
      "tensor 'model.layers.2.mlp.up_proj.weight' has shape [8, 12], expected [12, 8]");
}

TEST(ModelWeights, IndexDtypeRejected) {
  const ModelConfig c = tiny_config();
  const NamedTensors t = replaced(tiny_tensors(c), "model.norm.weight",
                                  Tensor::from_i32({8}, std::vector<int32_t>(8)));
  EXPECT_ERROR_WITH(ModelWeights::from_store(c, WeightStore::from_tensors(t, "tiny")),
                    "tensor 'model.norm.weight' in tiny has dtype i32");
}

}  // namespace
}  // namespace swiftkv
