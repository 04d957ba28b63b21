// Writing SwiftKV checkpoints from the trainer (DESIGN.md §1): every base tensor of the teacher
// checkpoint as stored, the trained SwiftKV tensors in the config's dtype, config.json
// (ModelConfig::to_json; written last, so a directory without it is unfinished) and the
// tokenizer files. Shards with an index above `max_shard_bytes` (save_checkpoint_tensors).
#pragma once

#include <cstdint>
#include <string>

#include "model/config.h"
#include "model/safetensors.h"
#include "model/weight_store.h"

namespace swiftkv {

// True for the Hugging Face names of SwiftKV parameters (norm_swiftkv, *_proj_swiftkv).
bool is_swiftkv_tensor_name(const std::string& name);

// `swiftkv_config`: the student's config (architecture kLlamaSwiftKV); `base`: the teacher's
// tensors (SwiftKV tensors in it are replaced by `trained`); tokenizer files are copied from
// `tokenizer_dir`. Creates `dir`.
void save_swiftkv_checkpoint(const std::string& dir, const ModelConfig& swiftkv_config,
                             const WeightStore& base, const NamedTensors& trained,
                             const std::string& tokenizer_dir,
                             uint64_t max_shard_bytes = kDefaultMaxShardBytes);

}  // namespace swiftkv
