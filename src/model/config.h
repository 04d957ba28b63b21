// Model configuration: the fields of a Hugging Face `config.json` for LlamaForCausalLM and
// LlamaSwiftKVForCausalLM (DESIGN.md §1), with Hugging Face's defaults and our validation.
//
// Both config dialects are accepted: transformers 4 (`rope_theta`, `rope_scaling`,
// `torch_dtype`) and transformers 5 (`rope_parameters` with theta and scaling nested, `dtype`).
// Defaults are those of transformers' LlamaConfig; SwiftKV defaults follow ArcticTraining
// (`num_key_value_layers` = num_hidden_layers when absent, `key_value_group_size` = 1).
// Unsupported features (biases, other activations, other RoPE types, quantization) are load
// errors that name the field, never silently ignored.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace swiftkv {

enum class Architecture { kLlama, kLlamaSwiftKV };

enum class RopeType { kDefault, kLlama3, kLinear };

struct RopeScaling {
  RopeType type = RopeType::kDefault;
  double factor = 1.0;                           // llama3, linear
  double low_freq_factor = 1.0;                  // llama3
  double high_freq_factor = 4.0;                 // llama3
  int64_t original_max_position_embeddings = 0;  // llama3

  bool operator==(const RopeScaling&) const = default;
};

struct ModelConfig {
  Architecture architecture = Architecture::kLlama;
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // defaults to num_attention_heads when absent
  int64_t head_dim = 128;            // defaults to hidden_size / num_attention_heads
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  std::vector<int64_t> bos_token_ids = {1};  // int or list in config.json
  std::vector<int64_t> eos_token_ids = {2};
  DType dtype = DType::kF32;  // `torch_dtype` / `dtype`; the weights' storage type

  // SwiftKV (architecture kLlamaSwiftKV): layers [0, num_key_value_layers) are ordinary;
  // later layers take K/V from norm_swiftkv(x_l), shared by groups of key_value_group_size.
  // `swiftkv` selects the wiring (false: run the original q/k/v of every layer, the teacher).
  // A plain Llama has swiftkv false, num_key_value_layers = num_hidden_layers, group size 1.
  bool swiftkv = false;
  int64_t num_key_value_layers = 0;
  int64_t key_value_group_size = 1;

  // Parses and validates; throws Error naming the field (e.g. "config.json: hidden_size (100)
  // is not divisible by num_attention_heads (3)"). `source` prefixes the messages.
  static ModelConfig from_json(const nlohmann::json& json,
                               const std::string& source = "config.json");
  // Reads `<dir>/config.json`.
  static ModelConfig load(const std::string& model_dir);
  // Serialises in the transformers-4 dialect, the one the released SwiftKV checkpoints use.
  // from_json(to_json()) gives back an equal config.
  nlohmann::json to_json() const;
  // Checks sizes and their consistency (from_json calls it; call it on configs built in code).
  void validate(const std::string& source = "config") const;

  bool operator==(const ModelConfig&) const = default;

  bool is_swiftkv() const { return architecture == Architecture::kLlamaSwiftKV && swiftkv; }
  // Whether model layer `layer` is a SwiftKV group leader (owns k/v_proj_swiftkv).
  bool is_swiftkv_leader(int64_t layer) const;
  // How many layers are leaders (the rows of the fused K/V projection are 2 x kv width each).
  int64_t num_swiftkv_leaders() const;
  // Number of KV cache layers: L, or l + (L - l) / G for SwiftKV.
  int64_t num_cache_layers() const;
  // The cache layer of model layer `layer` (AcrossKV groups share one).
  int64_t cache_layer_of(int64_t layer) const;
};

// The config.json spelling of a weight dtype: "float32", "bfloat16", "float16".
std::string_view torch_dtype_name(DType dtype);

}  // namespace swiftkv
