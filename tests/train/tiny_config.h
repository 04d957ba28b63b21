// The tiny Llama both trainer unit tests use (gradient_test, data_parallel_test): 4 layers,
// 4 heads over 2 KV heads, untied head, small enough for f64 finite differences.
#pragma once

#include "model/config.h"

namespace swiftkv::train_test {

inline ModelConfig tiny_plain_config() {
  ModelConfig c;
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = false;
  c.validate();
  return c;
}

}  // namespace swiftkv::train_test
