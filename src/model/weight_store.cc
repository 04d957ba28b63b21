// WeightStore (contract in weight_store.h).
#include "model/weight_store.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"

namespace swiftkv {
namespace {

namespace fs = std::filesystem;

// Reads `weight_map` (tensor name -> shard file name) from a sharded checkpoint's index.
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(read_file(index_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(index_path, ": invalid JSON: ", e.what()));
  }
  const auto it = index.is_object() ? index.find("weight_map") : index.end();
  if (it == index.end() || !it->is_object()) {
    throw Error(str_cat(index_path, ": missing 'weight_map' object"));
  }
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, shard] : it->items()) {
    if (!shard.is_string()) {
      throw Error(str_cat(index_path, ": weight_map entry '", name, "' must be a string, got ",
                          shard.type_name()));
    }
    const std::string file = shard.get<std::string>();
    // Shards live next to the index; refuse names that would escape the directory.
    if (file.empty() || file == "." || file == ".." ||
        file.find_first_of("/\\") != std::string::npos) {
      throw Error(
          str_cat(index_path, ": tensor '", name, "' has invalid shard file name '", file, "'"));
    }
    weight_map.emplace(name, file);
  }
  return weight_map;
}

}  // namespace

WeightStore WeightStore::open(const std::string& model_dir) {
  WeightStore store;
  store.source_ = model_dir;
  const std::string single = model_dir + "/model.safetensors";
  const std::string index_path = model_dir + "/model.safetensors.index.json";
  if (fs::exists(single)) {
    const SafetensorsFile file = SafetensorsFile::open(single);
    for (const std::string& name : file.names()) {
      store.tensors_.emplace(name, file.get(name));
    }
    return store;
  }
  if (!fs::exists(index_path)) {
    throw Error(str_cat("no model.safetensors or model.safetensors.index.json in ", model_dir));
  }
  std::map<std::string, SafetensorsFile> shards;
  for (const auto& [name, shard] : read_weight_map(index_path)) {
    auto it = shards.find(shard);
    if (it == shards.end()) {
      it = shards.emplace(shard, SafetensorsFile::open(str_cat(model_dir, "/", shard))).first;
    }
    if (!it->second.contains(name)) {
      throw Error(str_cat(index_path, ": tensor '", name, "' is listed in shard ", shard,
                          " but missing from it"));
    }
    store.tensors_.emplace(name, it->second.get(name));
  }
  return store;
}

WeightStore WeightStore::from_tensors(const NamedTensors& tensors, std::string source) {
  WeightStore store;
  store.source_ = std::move(source);
  for (const auto& [name, tensor] : tensors) {
    if (!store.tensors_.emplace(name, tensor).second) {
      throw Error(str_cat("duplicate tensor '", name, "' in ", store.source_));
    }
  }
  return store;
}

Tensor WeightStore::get(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    throw Error(str_cat("missing tensor '", name, "' in ", source_));
  }
  return it->second;
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& entry : tensors_) {
    names.push_back(entry.first);
  }
  return names;
}

}  // namespace swiftkv
