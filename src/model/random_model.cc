#include "model/random_model.h"

#include <random>

#include "core/error.h"

namespace swiftkv {
namespace {

struct NamedShape {
  const char* name;
  int64_t vocab_size, hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads;
  bool llama3_rope;
};

// Llama 3.x shapes as published in their config.json files; llama-100m is a small
// GQA model of ~100M parameters for CPU benchmarks.
constexpr NamedShape kShapes[] = {
    {"llama-100m", 16000, 768, 2048, 12, 12, 4, false},
    {"llama-3.2-1b", 128256, 2048, 8192, 16, 32, 8, true},
    {"llama-3.1-8b", 128256, 4096, 14336, 32, 32, 8, true},
    {"llama-3.1-70b", 128256, 8192, 28672, 80, 64, 8, true},
};

Tensor random_tensor(Shape shape, DType dtype, std::mt19937_64& rng, float mean, float stddev) {
  std::normal_distribution<float> normal(mean, stddev);
  Tensor t = Tensor::empty(std::move(shape), dtype);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    const float v = normal(rng);
    switch (dtype) {
      case DType::kF32:
        t.data<float>()[i] = v;
        break;
      case DType::kBF16:
        t.data<uint16_t>()[i] = f32_to_bf16(v);
        break;
      case DType::kF16:
        t.data<uint16_t>()[i] = f32_to_f16(v);
        break;
      case DType::kI32:
      case DType::kF8E4M3:
        throw Error(str_cat("random weights cannot be ", dtype_name(dtype),
                            " (supported: f32, bf16, f16)"));
    }
  }
  return t;
}

}  // namespace

std::vector<std::string> random_model_shapes() {
  std::vector<std::string> names;
  for (const NamedShape& s : kShapes) {
    names.emplace_back(s.name);
  }
  return names;
}

ModelConfig random_model_config(const RandomModelSpec& spec) {
  for (const NamedShape& s : kShapes) {
    if (spec.shape != s.name) {
      continue;
    }
    ModelConfig c;
    c.vocab_size = s.vocab_size;
    c.hidden_size = s.hidden_size;
    c.intermediate_size = s.intermediate_size;
    c.num_hidden_layers = s.num_layers;
    c.num_attention_heads = s.num_heads;
    c.num_key_value_heads = s.num_kv_heads;
    c.head_dim = s.hidden_size / s.num_heads;
    c.rms_norm_eps = 1e-5;
    c.dtype = spec.dtype;
    if (s.llama3_rope) {
      c.max_position_embeddings = 131072;
      c.rope_theta = 500000.0;
      c.rope_scaling = RopeScaling{.type = RopeType::kLlama3,
                                   .factor = 8.0,
                                   .low_freq_factor = 1.0,
                                   .high_freq_factor = 4.0,
                                   .original_max_position_embeddings = 8192};
      c.bos_token_ids = {128000};
      c.eos_token_ids = {128001, 128008, 128009};
    } else {
      c.max_position_embeddings = 4096;
    }
    if (spec.num_swiftkv_layers < 0 || spec.num_swiftkv_layers >= c.num_hidden_layers) {
      throw Error(str_cat("--swiftkv-layers must be in [0, ", c.num_hidden_layers, "), got ",
                          spec.num_swiftkv_layers));
    }
    if (spec.num_swiftkv_layers > 0) {
      c.architecture = Architecture::kLlamaSwiftKV;
      c.swiftkv = true;
      c.num_key_value_layers = c.num_hidden_layers - spec.num_swiftkv_layers;
      c.key_value_group_size = spec.group_size;
      if (spec.group_size < 1 || spec.num_swiftkv_layers % spec.group_size != 0) {
        throw Error(str_cat("group size ", spec.group_size, " does not divide the ",
                            spec.num_swiftkv_layers, " SwiftKV layers"));
      }
    }
    return c;
  }
  std::string known;
  for (const NamedShape& s : kShapes) {
    known += str_cat(known.empty() ? "" : ", ", s.name);
  }
  throw Error(str_cat("unknown random model shape '", spec.shape, "' (known: ", known, ")"));
}

ModelWeights random_model_weights(const ModelConfig& config, DType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t hidden = config.hidden_size;
  const int64_t q_width = config.num_attention_heads * config.head_dim;
  const int64_t kv_width = config.num_key_value_heads * config.head_dim;
  const int64_t inter = config.intermediate_size;
  const auto matrix = [&](int64_t rows, int64_t cols) {
    return random_tensor({rows, cols}, dtype, rng, 0.0F, 0.02F);
  };
  const auto norm = [&] { return random_tensor({hidden}, dtype, rng, 1.0F, 0.05F); };

  ModelWeights w;
  w.embed_tokens = matrix(config.vocab_size, hidden);
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    LayerWeights lw;
    lw.input_layernorm = norm();
    lw.q_proj = matrix(q_width, hidden);
    lw.k_proj = matrix(kv_width, hidden);
    lw.v_proj = matrix(kv_width, hidden);
    lw.o_proj = matrix(hidden, q_width);
    lw.post_attention_layernorm = norm();
    lw.gate_proj = matrix(inter, hidden);
    lw.up_proj = matrix(inter, hidden);
    lw.down_proj = matrix(hidden, inter);
    if (config.is_swiftkv() && layer >= config.num_key_value_layers) {
      lw.q_proj_swiftkv = matrix(q_width, hidden);
      if (config.is_swiftkv_leader(layer)) {
        lw.k_proj_swiftkv = matrix(kv_width, hidden);
        lw.v_proj_swiftkv = matrix(kv_width, hidden);
      }
    }
    w.layers.push_back(std::move(lw));
  }
  w.norm = norm();
  w.lm_head = config.tie_word_embeddings ? w.embed_tokens : matrix(config.vocab_size, hidden);
  if (config.is_swiftkv()) {
    w.norm_swiftkv = norm();
  }
  return w;
}

}  // namespace swiftkv
