// ModelConfig parsing, validation and serialisation (contract in config.h).
//
// Hugging Face defaults mirrored here (transformers LlamaConfig.__init__): vocab_size 32000,
// hidden_size 4096, intermediate_size 11008, num_hidden_layers 32, num_attention_heads 32,
// num_key_value_heads = num_attention_heads, head_dim = hidden_size // num_attention_heads,
// max_position_embeddings 2048, rms_norm_eps 1e-6, rope_theta 10000, tie_word_embeddings false,
// bos 1, eos 2, attention_bias / mlp_bias false. A JSON null counts as "absent" only for fields
// whose Hugging Face default is None (head counts, rope_scaling, token ids, dtype, SwiftKV l).
#include "model/config.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/json_fields.h"

namespace swiftkv {
namespace {

using nlohmann::json;

constexpr const char* kLlamaArch = "LlamaForCausalLM";
constexpr const char* kSwiftKVArch = "LlamaSwiftKVForCausalLM";
constexpr const char* kLlamaType = "llama";
constexpr const char* kSwiftKVType = "llama_swiftkv";

Architecture parse_architecture(const FieldReader& fields, const std::string& source) {
  std::optional<Architecture> from_architectures;
  std::string architecture_name;
  if (const json* list = fields.find("architectures", Nullable::kYes)) {
    if (!list->is_array() || list->empty() || !(*list)[0].is_string()) {
      throw fields.error("architectures", str_cat("must be a non-empty list of strings, got ",
                                                  describe_json(*list)));
    }
    architecture_name = (*list)[0].get<std::string>();
    if (architecture_name == kLlamaArch) {
      from_architectures = Architecture::kLlama;
    } else if (architecture_name == kSwiftKVArch) {
      from_architectures = Architecture::kLlamaSwiftKV;
    } else {
      throw Error(str_cat(source, ": unsupported architecture '", architecture_name,
                          "' (supported: ", kLlamaArch, ", ", kSwiftKVArch, ")"));
    }
  }
  std::optional<Architecture> from_model_type;
  const auto model_type = fields.optional_string("model_type", Nullable::kYes);
  if (model_type) {
    if (*model_type == kLlamaType) {
      from_model_type = Architecture::kLlama;
    } else if (*model_type == kSwiftKVType) {
      from_model_type = Architecture::kLlamaSwiftKV;
    } else {
      throw Error(str_cat(source, ": unsupported model_type '", *model_type,
                          "' (supported: ", kLlamaType, ", ", kSwiftKVType, ")"));
    }
  }
  if (from_architectures && from_model_type && *from_architectures != *from_model_type) {
    throw Error(str_cat(source, ": architecture '", architecture_name,
                        "' does not match model_type '", *model_type, "'"));
  }
  if (!from_architectures && !from_model_type) {
    throw Error(str_cat(source, ": neither 'architectures' nor 'model_type' is set"));
  }
  return from_architectures ? *from_architectures : *from_model_type;
}

// Parses a transformers-4 `rope_scaling` object or a transformers-5 `rope_parameters` object
// (`prefix` is "rope_scaling." or "rope_parameters.").
RopeScaling parse_rope_scaling(const json& object, const std::string& source,
                               const std::string& prefix) {
  if (!object.is_object()) {
    throw Error(str_cat(source, ": field '", prefix.substr(0, prefix.size() - 1),
                        "' must be an object or null, got ", describe_json(object)));
  }
  const FieldReader fields(object, source, prefix);
  // transformers accepts the legacy key "type" for "rope_type".
  const char* type_key = fields.find("rope_type") != nullptr ? "rope_type" : "type";
  const std::string type = fields.optional_string(type_key, Nullable::kNo).value_or("default");
  RopeScaling scaling;
  if (type == "default") {
    return scaling;
  }
  if (type == "linear") {
    scaling.type = RopeType::kLinear;
    scaling.factor = fields.required_number("factor");
    return scaling;
  }
  if (type == "llama3") {
    scaling.type = RopeType::kLlama3;
    scaling.factor = fields.required_number("factor");
    scaling.low_freq_factor = fields.required_number("low_freq_factor");
    scaling.high_freq_factor = fields.required_number("high_freq_factor");
    scaling.original_max_position_embeddings =
        fields.required_integer("original_max_position_embeddings");
    return scaling;
  }
  throw fields.error(type_key, str_cat("has unsupported RoPE type '", type,
                                       "' (supported: default, linear, llama3)"));
}

DType parse_config_dtype(const FieldReader& fields, const char* key, const std::string& value) {
  if (value == "float32" || value == "float") {
    return DType::kF32;
  }
  if (value == "bfloat16") {
    return DType::kBF16;
  }
  if (value == "float16" || value == "half") {
    return DType::kF16;
  }
  throw fields.error(
      key, str_cat("has unsupported value '", value, "' (supported: float32, bfloat16, float16)"));
}

void reject_unsupported(const FieldReader& fields, const std::string& source) {
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (fields.boolean(key, false)) {
      throw Error(str_cat(source, ": ", key, "=true is not supported"));
    }
  }
  if (const auto act = fields.optional_string("hidden_act", Nullable::kYes);
      act && *act != "silu") {
    throw fields.error("hidden_act", str_cat("'", *act, "' is not supported (only silu)"));
  }
  if (const json* quant = fields.find("quantization_config", Nullable::kYes)) {
    throw Error(str_cat(source, ": quantized checkpoints are not supported (quantization_config ",
                        quant->dump(), ")"));
  }
  if (fields.number("partial_rotary_factor", 1.0) != 1.0) {
    throw fields.error("partial_rotary_factor", "other than 1.0 is not supported");
  }
}

json token_ids_to_json(const std::vector<int64_t>& ids) {
  if (ids.empty()) {
    return nullptr;
  }
  if (ids.size() == 1) {
    return ids[0];
  }
  return ids;
}

}  // namespace

std::string_view torch_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "float32";
    case DType::kBF16:
      return "bfloat16";
    case DType::kF16:
      return "float16";
    case DType::kI32:
    case DType::kF8E4M3:
      break;
  }
  SWIFTKV_CHECK(false, "dtype ", dtype_name(dtype), " is not a weight dtype");
  return "";
}

ModelConfig ModelConfig::from_json(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object()) {
    throw Error(str_cat(source, ": expected a JSON object, got ", describe_json(doc)));
  }
  const FieldReader fields(doc, source);
  ModelConfig c;
  c.architecture = parse_architecture(fields, source);
  reject_unsupported(fields, source);

  c.vocab_size = fields.integer("vocab_size", c.vocab_size);
  c.hidden_size = fields.integer("hidden_size", c.hidden_size);
  c.intermediate_size = fields.integer("intermediate_size", c.intermediate_size);
  c.num_hidden_layers = fields.integer("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = fields.integer("num_attention_heads", c.num_attention_heads);
  c.num_key_value_heads =
      fields.integer("num_key_value_heads", c.num_attention_heads, Nullable::kYes);
  const auto head_dim = fields.optional_integer("head_dim", Nullable::kYes);
  if (head_dim) {
    c.head_dim = *head_dim;
  } else {
    if (c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads != 0) {
      throw Error(str_cat(source, ": hidden_size (", c.hidden_size,
                          ") is not divisible by num_attention_heads (", c.num_attention_heads,
                          ") and head_dim is not set"));
    }
    c.head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
  }
  c.max_position_embeddings = fields.integer("max_position_embeddings", c.max_position_embeddings);
  c.rms_norm_eps = fields.number("rms_norm_eps", c.rms_norm_eps);
  c.tie_word_embeddings = fields.boolean("tie_word_embeddings", c.tie_word_embeddings);
  c.bos_token_ids = fields.token_ids("bos_token_id", c.bos_token_ids);
  c.eos_token_ids = fields.token_ids("eos_token_id", c.eos_token_ids);

  // RoPE: transformers 5 nests theta and scaling in `rope_parameters`; transformers 4 has
  // top-level `rope_theta` and an optional `rope_scaling`.
  c.rope_theta = fields.number("rope_theta", c.rope_theta);
  if (const json* params = fields.find("rope_parameters", Nullable::kYes)) {
    c.rope_scaling = parse_rope_scaling(*params, source, "rope_parameters.");
    c.rope_theta =
        FieldReader(*params, source, "rope_parameters.").number("rope_theta", c.rope_theta);
  } else if (const json* scaling = fields.find("rope_scaling", Nullable::kYes)) {
    c.rope_scaling = parse_rope_scaling(*scaling, source, "rope_scaling.");
  }

  // transformers 5 writes `dtype`, transformers 4 `torch_dtype`.
  for (const char* key : {"dtype", "torch_dtype"}) {
    if (const auto name = fields.optional_string(key, Nullable::kYes)) {
      c.dtype = parse_config_dtype(fields, key, *name);
      break;
    }
  }

  if (c.architecture == Architecture::kLlamaSwiftKV) {
    c.swiftkv = fields.boolean("swiftkv", true);
    c.num_key_value_layers =
        fields.integer("num_key_value_layers", c.num_hidden_layers, Nullable::kYes);
    c.key_value_group_size = fields.integer("key_value_group_size", 1, Nullable::kYes);
  } else {
    // A plain Llama has no SwiftKV layers; stray SwiftKV fields are ignored, as transformers does.
    c.swiftkv = false;
    c.num_key_value_layers = c.num_hidden_layers;
    c.key_value_group_size = 1;
  }
  c.validate(source);
  return c;
}

ModelConfig ModelConfig::load(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  const std::string text = read_file(path);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": invalid JSON: ", e.what()));
  }
  return from_json(doc, path);
}

void ModelConfig::validate(const std::string& source) const {
  const auto require_positive = [&](const char* field, int64_t value) {
    if (value <= 0) {
      throw Error(str_cat(source, ": field '", field, "' must be positive, got ", value));
    }
  };
  require_positive("vocab_size", vocab_size);
  require_positive("hidden_size", hidden_size);
  require_positive("intermediate_size", intermediate_size);
  require_positive("num_hidden_layers", num_hidden_layers);
  require_positive("num_attention_heads", num_attention_heads);
  require_positive("num_key_value_heads", num_key_value_heads);
  require_positive("head_dim", head_dim);
  require_positive("max_position_embeddings", max_position_embeddings);
  if (num_attention_heads % num_key_value_heads != 0) {
    throw Error(str_cat(source, ": num_attention_heads (", num_attention_heads,
                        ") is not divisible by num_key_value_heads (", num_key_value_heads, ")"));
  }
  if (head_dim % 2 != 0) {
    throw Error(str_cat(source, ": head_dim (", head_dim, ") must be even for RoPE"));
  }
  if (!(rms_norm_eps > 0.0) || !std::isfinite(rms_norm_eps)) {
    throw Error(str_cat(source, ": field 'rms_norm_eps' must be positive, got ", rms_norm_eps));
  }
  if (!(rope_theta > 0.0) || !std::isfinite(rope_theta)) {
    throw Error(str_cat(source, ": field 'rope_theta' must be positive, got ", rope_theta));
  }
  if (rope_scaling.type != RopeType::kDefault &&
      (!(rope_scaling.factor > 0.0) || !std::isfinite(rope_scaling.factor))) {
    throw Error(
        str_cat(source, ": RoPE scaling factor must be positive, got ", rope_scaling.factor));
  }
  if (rope_scaling.type == RopeType::kLlama3) {
    if (!(rope_scaling.low_freq_factor > 0.0) ||
        !(rope_scaling.high_freq_factor > rope_scaling.low_freq_factor)) {
      throw Error(str_cat(source,
                          ": llama3 RoPE needs 0 < low_freq_factor < high_freq_factor, got ",
                          rope_scaling.low_freq_factor, " and ", rope_scaling.high_freq_factor));
    }
    if (rope_scaling.original_max_position_embeddings <= 0) {
      throw Error(str_cat(source,
                          ": llama3 RoPE field 'original_max_position_embeddings' must be "
                          "positive, got ",
                          rope_scaling.original_max_position_embeddings));
    }
  }
  if (!is_weight_dtype(dtype)) {
    throw Error(str_cat(source, ": dtype must be float32, bfloat16 or float16"));
  }
  if (architecture != Architecture::kLlamaSwiftKV) {
    if (swiftkv) {
      throw Error(str_cat(source, ": swiftkv=true needs architecture ", kSwiftKVArch));
    }
    return;
  }
  const int64_t l = num_key_value_layers;
  const int64_t g = key_value_group_size;
  if (l < 1 || l > num_hidden_layers) {
    throw Error(str_cat(source, ": field 'num_key_value_layers' must be in [1, ", num_hidden_layers,
                        "] (num_hidden_layers), got ", l));
  }
  if (g < 1) {
    throw Error(str_cat(source, ": field 'key_value_group_size' must be >= 1, got ", g));
  }
  if ((num_hidden_layers - l) % g != 0) {
    throw Error(str_cat(source, ": num_hidden_layers - num_key_value_layers (",
                        num_hidden_layers - l, ") is not divisible by key_value_group_size (", g,
                        ")"));
  }
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j;
  const bool is_swiftkv_arch = architecture == Architecture::kLlamaSwiftKV;
  j["architectures"] = nlohmann::json::array({is_swiftkv_arch ? kSwiftKVArch : kLlamaArch});
  j["model_type"] = is_swiftkv_arch ? kSwiftKVType : kLlamaType;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  switch (rope_scaling.type) {
    case RopeType::kDefault:
      j["rope_scaling"] = nullptr;
      break;
    case RopeType::kLinear:
      j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rope_scaling.factor}};
      break;
    case RopeType::kLlama3:
      j["rope_scaling"] = {
          {"rope_type", "llama3"},
          {"factor", rope_scaling.factor},
          {"low_freq_factor", rope_scaling.low_freq_factor},
          {"high_freq_factor", rope_scaling.high_freq_factor},
          {"original_max_position_embeddings", rope_scaling.original_max_position_embeddings}};
      break;
  }
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["bos_token_id"] = token_ids_to_json(bos_token_ids);
  j["eos_token_id"] = token_ids_to_json(eos_token_ids);
  j["torch_dtype"] = torch_dtype_name(dtype);
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["mlp_bias"] = false;
  if (is_swiftkv_arch) {
    j["swiftkv"] = swiftkv;
    j["num_key_value_layers"] = num_key_value_layers;
    j["key_value_group_size"] = key_value_group_size;
  }
  return j;
}

bool ModelConfig::is_swiftkv_leader(int64_t layer) const {
  SWIFTKV_CHECK(layer >= 0 && layer < num_hidden_layers, "layer ", layer, " of ",
                num_hidden_layers);
  return is_swiftkv() && layer >= num_key_value_layers &&
         (layer - num_key_value_layers) % key_value_group_size == 0;
}

int64_t ModelConfig::num_swiftkv_leaders() const {
  int64_t leaders = 0;
  for (int64_t layer = 0; layer < num_hidden_layers; ++layer) {
    leaders += is_swiftkv_leader(layer) ? 1 : 0;
  }
  return leaders;
}

int64_t ModelConfig::num_cache_layers() const {
  if (!is_swiftkv()) {
    return num_hidden_layers;
  }
  return num_key_value_layers + (num_hidden_layers - num_key_value_layers) / key_value_group_size;
}

int64_t ModelConfig::cache_layer_of(int64_t layer) const {
  SWIFTKV_CHECK(layer >= 0 && layer < num_hidden_layers, "layer ", layer, " of ",
                num_hidden_layers);
  if (!is_swiftkv() || layer < num_key_value_layers) {
    return layer;
  }
  return num_key_value_layers + (layer - num_key_value_layers) / key_value_group_size;
}

}  // namespace swiftkv
