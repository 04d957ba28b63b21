// Offline generation for one request at a time: chunked prefill, then decode, with sampling,
// stop conditions and streamed text. The serving engine (continuous batching) replaces this
// for many concurrent requests; both run the same LlamaModel::forward.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "engine/sampling_params.h"
#include "model/llama_model.h"
#include "ops/context.h"

namespace swiftkv {

class Tokenizer;

enum class FinishReason { kStop, kLength };
std::string_view finish_reason_name(FinishReason reason);  // "stop", "length"

struct GenerationResult {
  std::vector<int32_t> output_ids;  // generated tokens (a final stop token included)
  std::string text;                 // decoded output, cut before any stop string
  FinishReason finish_reason = FinishReason::kLength;
  int64_t num_prompt_tokens = 0;
  double prefill_seconds = 0.0;  // prompt forward passes (time to first token, less sampling)
  double decode_seconds = 0.0;   // all later steps
};

struct GeneratorOptions {
  int64_t max_model_len = 0;          // context size; 0 = the model's max_position_embeddings
  int64_t prefill_chunk_size = 8192;  // prompt tokens per forward pass
  int64_t block_size = 16;
};

class Generator {
 public:
  Generator(const LlamaModel& model, const Tokenizer& tokenizer, ops::Context ctx,
            GeneratorOptions options);

  // Generates from `prompt` (token ids, BOS included if wanted). `on_text` receives text as it
  // becomes final (never half a character, never part of a stop string).
  GenerationResult generate(std::span<const int32_t> prompt, const SamplingParams& params,
                            const std::function<void(std::string_view)>& on_text = {}) const;

  int64_t max_model_len() const { return max_model_len_; }

 private:
  const LlamaModel& model_;
  const Tokenizer& tokenizer_;
  ops::Context ctx_;
  GeneratorOptions options_;
  int64_t max_model_len_;
};

// Logits of every position of `tokens` ([num_tokens, vocab_size] f32), computed in prefill
// chunks of `chunk_size` on a fresh cache. For parity tests and evaluation.
Tensor compute_prompt_logits(const LlamaModel& model, const ops::Context& ctx,
                             std::span<const int32_t> tokens, int64_t chunk_size);

}  // namespace swiftkv
