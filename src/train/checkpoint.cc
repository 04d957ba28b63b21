#include "train/checkpoint.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/mapped_file.h"

namespace swiftkv {

bool is_swiftkv_tensor_name(const std::string& name) {
  return name.find("_swiftkv.") != std::string::npos;
}

void save_swiftkv_checkpoint(const std::string& dir, const ModelConfig& swiftkv_config,
                             const WeightStore& base, const NamedTensors& trained,
                             const std::string& tokenizer_dir, uint64_t max_shard_bytes) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  fs::remove(fs::path(dir) / "config.json");
  NamedTensors tensors;
  for (const std::string& name : base.names()) {
    if (!is_swiftkv_tensor_name(name)) {
      tensors.emplace_back(name, base.get(name));
    }
  }
  for (const auto& [name, tensor] : trained) {
    tensors.emplace_back(name, tensor.dtype() == swiftkv_config.dtype
                                   ? tensor
                                   : tensor.to_dtype(swiftkv_config.dtype));
  }
  save_checkpoint_tensors(dir, tensors, max_shard_bytes);
  for (const char* file : {"tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                           "special_tokens_map.json", "generation_config.json"}) {
    const fs::path src = fs::path(tokenizer_dir) / file;
    if (fs::exists(src) && fs::absolute(src) != fs::absolute(fs::path(dir) / file)) {
      fs::copy_file(src, fs::path(dir) / file, fs::copy_options::overwrite_existing);
    }
  }
  write_file((fs::path(dir) / "config.json").string(), swiftkv_config.to_json().dump(2) + "\n");
}

}  // namespace swiftkv
