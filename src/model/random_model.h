// Random-weight models of named shapes, generated in memory (seeded), so benchmarks need no
// checkpoint file: `--model random:llama-100m`, `random:llama-3.1-8b`, ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/config.h"
#include "model/weights.h"

namespace swiftkv {

struct RandomModelSpec {
  std::string shape;               // a name from random_model_shapes()
  int64_t num_swiftkv_layers = 0;  // 0 = plain Llama; else l = L - num_swiftkv_layers
  int64_t group_size = 1;
  DType dtype = DType::kBF16;
  uint64_t seed = 0;
};

// Names of the shapes `random:` accepts.
std::vector<std::string> random_model_shapes();
// The config of a named shape (throws Error listing the known names for an unknown one).
ModelConfig random_model_config(const RandomModelSpec& spec);
// Config plus weights drawn from N(0, 0.02) (norms near 1), reproducible from the seed.
ModelWeights random_model_weights(const ModelConfig& config, DType dtype, uint64_t seed);

}  // namespace swiftkv
