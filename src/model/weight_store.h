// WeightStore: the named tensors of a Hugging Face checkpoint directory.
//
// `open(dir)` follows transformers' lookup order: `model.safetensors` if present, otherwise
// `model.safetensors.index.json` (its `weight_map` names every tensor and its shard; all shards
// are opened and each listed tensor must be in its shard). Tensors are memory-mapped views
// (read-only; they keep their file mapped). Immutable after construction, so concurrent reads
// are safe; copies share the tensors.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/safetensors.h"

namespace swiftkv {

class WeightStore {
 public:
  // Opens the checkpoint in `model_dir`; throws Error naming the file on any problem.
  static WeightStore open(const std::string& model_dir);
  // A store over tensors held in memory (importers, tests); `source` names it in messages.
  static WeightStore from_tensors(const NamedTensors& tensors, std::string source);

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws Error "missing tensor '<name>' in <source>" when absent.
  Tensor get(const std::string& name) const;
  // All tensor names, sorted.
  std::vector<std::string> names() const;
  size_t size() const { return tensors_.size(); }
  // The directory (or description) the tensors came from.
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::map<std::string, Tensor> tensors_;
};

}  // namespace swiftkv
