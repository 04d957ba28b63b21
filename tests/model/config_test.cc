// ModelConfig: Hugging Face defaults, both config dialects, SwiftKV fields and helpers, and
// one test per named validation failure.
#include "model/config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io_test_util.h"

namespace swiftkv {
namespace {

using nlohmann::json;

json tiny_llama() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 512,
    "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
    "num_attention_heads": 8})");
}

json tiny_swiftkv() {
  json j = tiny_llama();
  j["architectures"] = {"LlamaSwiftKVForCausalLM"};
  j["model_type"] = "llama_swiftkv";
  return j;
}

TEST(ModelConfig, AppliesHuggingFaceDefaults) {
  const ModelConfig c = ModelConfig::from_json(tiny_llama());
  EXPECT_EQ(c.architecture, Architecture::kLlama);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeType::kDefault);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_EQ(c.bos_token_ids, (std::vector<int64_t>{1}));
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(c.dtype, DType::kF32);
  EXPECT_FALSE(c.is_swiftkv());
  EXPECT_EQ(c.num_cache_layers(), 5);
  EXPECT_EQ(c.cache_layer_of(4), 4);

  const ModelConfig all_defaults = ModelConfig::from_json(json{{"model_type", "llama"}});
  EXPECT_EQ(all_defaults.vocab_size, 32000);
  EXPECT_EQ(all_defaults.hidden_size, 4096);
  EXPECT_EQ(all_defaults.intermediate_size, 11008);
  EXPECT_EQ(all_defaults.num_hidden_layers, 32);
  EXPECT_EQ(all_defaults.head_dim, 128);
}

// Llama-3.1-SwiftKV-8B-Instruct's config.json as released (transformers 4 dialect).
TEST(ModelConfig, ParsesTransformers4SwiftKVConfig) {
  const ModelConfig c = ModelConfig::from_json(json::parse(R"({
    "architectures": ["LlamaSwiftKVForCausalLM"], "model_type": "llama_swiftkv",
    "attention_bias": false, "mlp_bias": false, "hidden_act": "silu", "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009], "hidden_size": 4096, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256,
    "swiftkv": true, "num_key_value_layers": 16, "key_value_group_size": 1,
    "transformers_version": "4.44.2"})"));
  EXPECT_TRUE(c.is_swiftkv());
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeType::kLlama3);
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.bos_token_ids, (std::vector<int64_t>{128000}));
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c.dtype, DType::kBF16);
  EXPECT_EQ(c.num_key_value_layers, 16);
  EXPECT_EQ(c.num_cache_layers(), 32);
}

TEST(ModelConfig, ParsesTransformers5Dialect) {
  json j = tiny_llama();
  j["rope_parameters"] = json::parse(R"({"rope_type": "llama3", "rope_theta": 500000.0,
      "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192})");
  j["dtype"] = "float16";
  const ModelConfig c = ModelConfig::from_json(j);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeType::kLlama3);
  EXPECT_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_EQ(c.dtype, DType::kF16);

  j["rope_parameters"] = json{{"rope_type", "default"}, {"rope_theta", 1e6}};
  const ModelConfig plain = ModelConfig::from_json(j);
  EXPECT_EQ(plain.rope_theta, 1e6);
  EXPECT_EQ(plain.rope_scaling.type, RopeType::kDefault);
}

TEST(ModelConfig, ParsesRopeScalingVariants) {
  json j = tiny_llama();
  j["rope_scaling"] = json{{"type", "linear"}, {"factor", 2.0}};  // legacy key "type"
  EXPECT_EQ(ModelConfig::from_json(j).rope_scaling.type, RopeType::kLinear);
  EXPECT_EQ(ModelConfig::from_json(j).rope_scaling.factor, 2.0);
  j["rope_scaling"] = json{{"rope_type", "default"}};
  EXPECT_EQ(ModelConfig::from_json(j).rope_scaling.type, RopeType::kDefault);
  j["rope_scaling"] = nullptr;
  EXPECT_EQ(ModelConfig::from_json(j).rope_scaling.type, RopeType::kDefault);
}

TEST(ModelConfig, ParsesTokenIdForms) {
  json j = tiny_llama();
  j["bos_token_id"] = nullptr;
  j["eos_token_id"] = {2, 7};
  const ModelConfig c = ModelConfig::from_json(j);
  EXPECT_TRUE(c.bos_token_ids.empty());
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2, 7}));
}

TEST(ModelConfig, SwiftKVDefaultsAndCacheLayout) {
  json j = tiny_swiftkv();
  const ModelConfig defaults = ModelConfig::from_json(j);
  EXPECT_TRUE(defaults.swiftkv);
  EXPECT_EQ(defaults.num_key_value_layers, 5);  // no SwiftKV layers
  EXPECT_EQ(defaults.key_value_group_size, 1);

  j["num_key_value_layers"] = 1;
  j["key_value_group_size"] = 2;
  const ModelConfig c = ModelConfig::from_json(j);
  EXPECT_TRUE(c.is_swiftkv());
  EXPECT_EQ(c.num_cache_layers(), 3);  // l + (L - l) / G = 1 + 4 / 2
  EXPECT_EQ(c.num_swiftkv_leaders(), 2);
  const std::vector<int64_t> cache = {0, 1, 1, 2, 2};
  const std::vector<bool> leader = {false, true, false, true, false};
  for (int64_t j2 = 0; j2 < 5; ++j2) {
    EXPECT_EQ(c.cache_layer_of(j2), cache[static_cast<size_t>(j2)]) << j2;
    EXPECT_EQ(c.is_swiftkv_leader(j2), leader[static_cast<size_t>(j2)]) << j2;
  }
  j["swiftkv"] = false;  // the teacher wiring: one cache layer per layer
  EXPECT_EQ(ModelConfig::from_json(j).num_cache_layers(), 5);
}

TEST(ModelConfig, RoundTripsThroughJson) {
  json j = tiny_swiftkv();
  j["num_key_value_layers"] = 3;
  j["rope_scaling"] = json{{"rope_type", "llama3"},
                           {"factor", 8.0},
                           {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0},
                           {"original_max_position_embeddings", 8192}};
  j["eos_token_id"] = {2, 3};
  j["bos_token_id"] = nullptr;
  j["torch_dtype"] = "bfloat16";
  const ModelConfig c = ModelConfig::from_json(j);
  EXPECT_EQ(ModelConfig::from_json(c.to_json()), c);
  const ModelConfig plain = ModelConfig::from_json(tiny_llama());
  EXPECT_EQ(ModelConfig::from_json(plain.to_json()), plain);
}

TEST(ModelConfig, LoadsFromDirectory) {
  io_test::TempDir dir;
  io_test::write_bytes(dir.file("config.json"), tiny_llama().dump());
  EXPECT_EQ(ModelConfig::load(dir.path()).hidden_size, 64);
  io_test::write_bytes(dir.file("config.json"), "{ not json");
  EXPECT_ERROR_WITH(ModelConfig::load(dir.path()), "config.json: invalid JSON");
  io_test::TempDir empty;
  EXPECT_ERROR_WITH(ModelConfig::load(empty.path()), "cannot open");
}

// ---- one test per named failure --------------------------------------------------------------

TEST(ModelConfigErrors, UnknownArchitecture) {
  json j = tiny_llama();
  j["architectures"] = {"MistralForCausalLM"};
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "unsupported architecture 'MistralForCausalLM'");
  j = tiny_llama();
  j["model_type"] = "qwen2";
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "unsupported model_type 'qwen2'");
  j = tiny_llama();
  j["model_type"] = "llama_swiftkv";
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "does not match model_type");
}

TEST(ModelConfigErrors, InconsistentHeads) {
  json j = tiny_llama();
  j["num_key_value_heads"] = 3;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j),
                    "num_attention_heads (8) is not divisible by num_key_value_heads (3)");
}

TEST(ModelConfigErrors, HiddenNotDivisibleByHeads) {
  json j = tiny_llama();
  j["num_attention_heads"] = 6;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j),
                    "hidden_size (64) is not divisible by num_attention_heads (6)");
  j["head_dim"] = 10;  // an explicit head_dim lifts the rule, as in transformers
  EXPECT_EQ(ModelConfig::from_json(j).head_dim, 10);
}

TEST(ModelConfigErrors, OddHeadDim) {
  json j = tiny_llama();
  j["head_dim"] = 7;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "head_dim (7) must be even");
}

TEST(ModelConfigErrors, NonPositiveSize) {
  json j = tiny_llama();
  j["intermediate_size"] = 0;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'intermediate_size' must be positive, got 0");
}

TEST(ModelConfigErrors, WrongTypes) {
  json j = tiny_llama();
  j["hidden_size"] = "64";
  EXPECT_ERROR_WITH(ModelConfig::from_json(j),
                    "config.json: field 'hidden_size' must be an integer, got string");
  j = tiny_llama();
  j["num_hidden_layers"] = 2.5;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'num_hidden_layers' must be an integer");
  j = tiny_llama();
  j["tie_word_embeddings"] = 1;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'tie_word_embeddings' must be a boolean");
  j = tiny_llama();
  j["rms_norm_eps"] = "1e-5";
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'rms_norm_eps' must be a number");
  j = tiny_llama();
  j["eos_token_id"] = "2";
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'eos_token_id' must be an integer, a list");
  j = tiny_llama();
  j["rope_scaling"] = json{{"rope_type", "llama3"}, {"factor", "8"}};
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'rope_scaling.factor' must be a number");
  j = tiny_llama();
  j["torch_dtype"] = "float8_e4m3fn";
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'torch_dtype' has unsupported value");
  EXPECT_ERROR_WITH(ModelConfig::from_json(json::array()), "expected a JSON object, got array");
}

TEST(ModelConfigErrors, BadGroupSize) {
  json j = tiny_swiftkv();
  j["num_key_value_layers"] = 2;
  j["key_value_group_size"] = 2;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j),
                    "num_hidden_layers - num_key_value_layers (3) is not divisible by "
                    "key_value_group_size (2)");
  j["key_value_group_size"] = 0;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'key_value_group_size' must be >= 1, got 0");
}

TEST(ModelConfigErrors, BadNumKeyValueLayers) {
  json j = tiny_swiftkv();
  j["num_key_value_layers"] = 0;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'num_key_value_layers' must be in [1, 5]");
  j["num_key_value_layers"] = 6;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "got 6");
}

TEST(ModelConfigErrors, UnsupportedFeatures) {
  json j = tiny_llama();
  j["attention_bias"] = true;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "attention_bias=true is not supported");
  j = tiny_llama();
  j["mlp_bias"] = true;
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "mlp_bias=true is not supported");
  j = tiny_llama();
  j["hidden_act"] = "gelu";
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'hidden_act' 'gelu' is not supported");
  j = tiny_llama();
  j["rope_scaling"] = json{{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "unsupported RoPE type 'yarn'");
  j = tiny_llama();
  j["rope_scaling"] = json{{"rope_type", "llama3"}, {"factor", 8.0}};
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "field 'rope_scaling.low_freq_factor' is required");
  j = tiny_llama();
  j["quantization_config"] = json{{"quant_method", "compressed-tensors"}};
  EXPECT_ERROR_WITH(ModelConfig::from_json(j), "quantized checkpoints are not supported");
}

}  // namespace
}  // namespace swiftkv
