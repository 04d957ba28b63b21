// Checkpoint converters (contract in convert.h).
#include "model/convert.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/llama2c.h"
#include "model/tensor_names.h"
#include "model/weight_store.h"

namespace swiftkv {
namespace {

namespace fs = std::filesystem;

// Files next to the weights that a SwiftKV checkpoint keeps unchanged.
constexpr const char* kCopiedFiles[] = {"tokenizer.json", "tokenizer_config.json",
                                        "tokenizer.model", "special_tokens_map.json",
                                        "generation_config.json"};

Tensor as_dtype(const Tensor& t, std::optional<DType> dtype) {
  return !dtype || t.dtype() == *dtype ? t : t.to_dtype(*dtype);
}

void check_weight_dtype(DType dtype) {
  if (!is_weight_dtype(dtype)) {
    throw Error(
        str_cat("cannot store weights as ", dtype_name(dtype), " (supported: f32, bf16, f16)"));
  }
}

// Creates `out_dir`, or accepts an existing one that is empty or may be overwritten.
void prepare_output_dir(const std::string& out_dir, bool overwrite) {
  std::error_code ec;
  if (fs::exists(out_dir)) {
    if (!fs::is_directory(out_dir)) {
      throw Error(str_cat("output ", out_dir, " exists and is not a directory"));
    }
    if (!fs::is_empty(out_dir) && !overwrite) {
      throw Error(str_cat("output directory ", out_dir,
                          " is not empty (pass overwrite to replace its checkpoint)"));
    }
    return;
  }
  fs::create_directories(out_dir, ec);
  if (ec) {
    throw Error(str_cat("cannot create output directory ", out_dir, ": ", ec.message()));
  }
}

nlohmann::json read_json(const std::string& path) {
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": invalid JSON: ", e.what()));
  }
}

}  // namespace

void convert_llama2c_model(const std::string& bin_path, const std::string& out_dir, DType dtype,
                           bool overwrite) {
  check_weight_dtype(dtype);
  Llama2cCheckpoint checkpoint = import_llama2c(bin_path);
  for (auto& named : checkpoint.tensors) {
    named.second = as_dtype(named.second, dtype);
  }
  checkpoint.config.dtype = dtype;
  prepare_output_dir(out_dir, overwrite);
  save_checkpoint_tensors(out_dir, checkpoint.tensors);
  write_file(out_dir + "/config.json", checkpoint.config.to_json().dump(2) + "\n");
}

NamedTensors init_swiftkv_tensors(const ModelConfig& config, const ModelWeights& base,
                                  std::optional<DType> dtype) {
  namespace names = tensor_names;
  const int64_t num_layers = config.num_hidden_layers;
  const int64_t first = config.num_key_value_layers;
  const int64_t group = config.key_value_group_size;
  SWIFTKV_CHECK(static_cast<int64_t>(base.layers.size()) == num_layers && first >= 1 &&
                    first <= num_layers && group >= 1 && (num_layers - first) % group == 0,
                "layers=", base.layers.size(), " L=", num_layers, " l=", first, " G=", group);
  // Mean of the group's projections, accumulated in f32 as sum of W[m] / G (ArcticTraining:
  // zero_(), then add_(W[m] / G) for each m of the group).
  const auto group_mean = [&](int64_t leader, Tensor LayerWeights::*proj) {
    const Tensor& first_proj = base.layers[static_cast<size_t>(leader)].*proj;
    Tensor mean = Tensor::zeros(first_proj.shape(), DType::kF32);
    float* acc = mean.data<float>();
    const auto group_f = static_cast<float>(group);
    for (int64_t m = leader; m < leader + group; ++m) {
      const Tensor w = (base.layers[static_cast<size_t>(m)].*proj).to_f32();
      SWIFTKV_CHECK(w.shape() == mean.shape(), "layer ", m, " projection shape");
      const float* src = w.data<const float>();
      for (int64_t i = 0; i < w.numel(); ++i) {
        acc[i] += src[i] / group_f;
      }
    }
    return mean.to_dtype(dtype.value_or(first_proj.dtype()));
  };

  NamedTensors out;
  if (first < num_layers) {
    out.emplace_back(names::kNormSwiftKV,
                     as_dtype(base.layers[static_cast<size_t>(first)].input_layernorm, dtype));
  }
  for (int64_t j = first; j < num_layers; ++j) {
    const LayerWeights& layer = base.layers[static_cast<size_t>(j)];
    out.emplace_back(names::layer(j, names::kQProjSwiftKV), as_dtype(layer.q_proj, dtype));
    if ((j - first) % group == 0) {
      out.emplace_back(names::layer(j, names::kKProjSwiftKV), group_mean(j, &LayerWeights::k_proj));
      out.emplace_back(names::layer(j, names::kVProjSwiftKV), group_mean(j, &LayerWeights::v_proj));
    }
  }
  return out;
}

void convert_to_swiftkv(const std::string& in_dir, const std::string& out_dir,
                        int64_t num_kv_layers, int64_t group_size, std::optional<DType> dtype,
                        bool overwrite) {
  if (dtype) {
    check_weight_dtype(*dtype);
  }
  const std::string in_config_path = in_dir + "/config.json";
  nlohmann::json config_json = read_json(in_config_path);
  const ModelConfig base_config = ModelConfig::from_json(config_json, in_config_path);
  if (base_config.architecture != Architecture::kLlama) {
    throw Error(str_cat(in_dir, " is already a SwiftKV checkpoint (LlamaSwiftKVForCausalLM)"));
  }
  config_json["architectures"] = nlohmann::json::array({"LlamaSwiftKVForCausalLM"});
  config_json["model_type"] = "llama_swiftkv";
  config_json["swiftkv"] = true;
  config_json["num_key_value_layers"] = num_kv_layers;
  config_json["key_value_group_size"] = group_size;
  if (dtype) {
    config_json["torch_dtype"] = torch_dtype_name(*dtype);
    if (config_json.contains("dtype")) {
      config_json["dtype"] = torch_dtype_name(*dtype);
    }
  }
  // Validates l and G; messages name the config fields.
  const ModelConfig config = ModelConfig::from_json(config_json, "convert_to_swiftkv");

  std::error_code ec;
  if (fs::exists(out_dir) && fs::equivalent(in_dir, out_dir, ec)) {
    throw Error(str_cat("convert_to_swiftkv: output ", out_dir, " is the input directory"));
  }
  const WeightStore store = WeightStore::open(in_dir);
  const ModelWeights base = ModelWeights::from_store(base_config, store);

  NamedTensors tensors;
  for (const std::string& name : store.names()) {
    tensors.emplace_back(name, as_dtype(store.get(name), dtype));
  }
  for (auto& named : init_swiftkv_tensors(config, base, dtype)) {
    if (store.contains(named.first)) {
      throw Error(str_cat(in_dir, " already holds SwiftKV tensor '", named.first, "'"));
    }
    tensors.push_back(std::move(named));
  }

  prepare_output_dir(out_dir, overwrite);
  save_checkpoint_tensors(out_dir, tensors);
  for (const char* name : kCopiedFiles) {
    const fs::path source = fs::path(in_dir) / name;
    if (fs::exists(source)) {
      fs::copy_file(source, fs::path(out_dir) / name, fs::copy_options::overwrite_existing, ec);
      if (ec) {
        throw Error(str_cat("cannot copy ", source.string(), " to ", out_dir, ": ", ec.message()));
      }
    }
  }
  write_file(out_dir + "/config.json", config_json.dump(2) + "\n");
}

}  // namespace swiftkv
