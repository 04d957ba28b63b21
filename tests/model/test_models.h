// Checkpoints the model tests share, built once per test process under a temp directory from
// ../shared (never copied into the repository): stories260K imported from llama2.c, and its
// SwiftKV conversions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/llama_model.h"

namespace swiftkv::testing {

// Hugging Face directory of stories260K (f32), converted on first use.
const std::string& stories260k_dir();
// SwiftKV conversion of stories260K with `num_kv_layers` and `group_size`, converted on first use.
std::string stories260k_swiftkv_dir(int64_t num_kv_layers, int64_t group_size);
// The golden greedy continuation from BOS (../shared/.../expected_greedy_bos_256.json).
std::vector<int32_t> stories260k_expected_greedy();

std::unique_ptr<LlamaModel> load(const std::string& dir, SwiftKVMode mode);

// max |a - b| / max |b| over two equally shaped f32 tensors.
double max_relative_error(const Tensor& actual, const Tensor& expected);

}  // namespace swiftkv::testing
