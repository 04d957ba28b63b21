// The tensors of a Llama / Llama-SwiftKV model, validated against the config.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace swiftkv {

class WeightStore;

struct LayerWeights {
  Tensor input_layernorm;           // [hidden_size]
  Tensor q_proj;                    // [num_heads * head_dim, hidden_size]
  Tensor k_proj;                    // [num_kv_heads * head_dim, hidden_size]
  Tensor v_proj;                    // [num_kv_heads * head_dim, hidden_size]
  Tensor o_proj;                    // [hidden_size, num_heads * head_dim]
  Tensor post_attention_layernorm;  // [hidden_size]
  Tensor gate_proj;                 // [intermediate_size, hidden_size]
  Tensor up_proj;                   // [intermediate_size, hidden_size]
  Tensor down_proj;                 // [hidden_size, intermediate_size]
  // SwiftKV layers (index >= num_key_value_layers) only; k/v only on group leaders.
  Tensor q_proj_swiftkv;  // [num_heads * head_dim, hidden_size]
  Tensor k_proj_swiftkv;  // [num_kv_heads * head_dim, hidden_size]
  Tensor v_proj_swiftkv;  // [num_kv_heads * head_dim, hidden_size]
};

struct ModelWeights {
  Tensor embed_tokens;  // [vocab_size, hidden_size]
  std::vector<LayerWeights> layers;
  Tensor norm;          // [hidden_size]
  Tensor lm_head;       // [vocab_size, hidden_size]; the embedding when tie_word_embeddings
  Tensor norm_swiftkv;  // [hidden_size], SwiftKV only

  // Takes every tensor the config requires from `store` (Hugging Face names, e.g.
  // "model.layers.3.self_attn.q_proj.weight"), checking shape and dtype; throws Error naming
  // the tensor when one is missing or mis-shaped. Tensors stay memory-mapped (no copy).
  static ModelWeights from_store(const ModelConfig& config, const WeightStore& store);
};

}  // namespace swiftkv
