// Checkpoint converters: llama2.c .bin -> Hugging Face Llama directory, and plain Llama ->
// SwiftKV checkpoint with the new parameters initialised as DESIGN.md §6 / swiftkv-notes §1.4
// prescribe (the starting point of `swiftkv distill`).
//
// Output directories are created; an existing non-empty one is refused unless `overwrite`
// (then checkpoint files are replaced, other files are left alone). config.json is written
// last, so a directory without it is an unfinished conversion.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "model/weights.h"

namespace swiftkv {

// Writes config.json + model.safetensors for the llama2.c checkpoint `bin_path`, tensors
// stored as `dtype` (F32, BF16 or F16; rounding to nearest even).
void convert_llama2c_model(const std::string& bin_path, const std::string& out_dir,
                           DType dtype = DType::kF32, bool overwrite = false);

// Reads the LlamaForCausalLM checkpoint in `in_dir` and writes a LlamaSwiftKVForCausalLM one to
// `out_dir`: config.json (the input's fields kept, plus architectures, model_type, swiftkv,
// num_key_value_layers, key_value_group_size), every input tensor, and the new SwiftKV tensors
// (init_swiftkv_tensors). `dtype`: store every tensor as that type (and set torch_dtype);
// nullopt keeps each tensor's type. Copies tokenizer.json, tokenizer_config.json,
// tokenizer.model, special_tokens_map.json and generation_config.json when present. Throws
// Error for an input that is already SwiftKV, invalid l / G (named like config fields), or
// an output directory that is the input or is non-empty without `overwrite`.
void convert_to_swiftkv(const std::string& in_dir, const std::string& out_dir,
                        int64_t num_kv_layers, int64_t group_size,
                        std::optional<DType> dtype = std::nullopt, bool overwrite = false);

// The new SwiftKV parameters for `swiftkv_config` (l, G) from a plain model's `base` weights:
//   model.norm_swiftkv.weight               = layers[l].input_layernorm
//   layers[j].self_attn.q_proj_swiftkv      = layers[j].q_proj                 for j >= l
//   layers[j].self_attn.{k,v}_proj_swiftkv  = mean over m in [j, j+G) of layers[m].{k,v}_proj
//                                             for leaders j ((j - l) % G == 0), accumulated in
//                                             f32 as ArcticTraining does (sum of W[m] / G)
// Stored as `dtype`, or (nullopt) as the tensor they derive from. Copies share storage.
NamedTensors init_swiftkv_tensors(const ModelConfig& swiftkv_config, const ModelWeights& base,
                                  std::optional<DType> dtype);

}  // namespace swiftkv
