// `swiftkv eval`: quality of a (SwiftKV) checkpoint on held-out data, computed with the engine's
// own forward (LlamaModel, CPU f32 via compute_prompt_logits), i.e. exactly what serving runs:
//  - perplexity: exp(mean next-token NLL) over the response tokens of every document;
//  - against a teacher (the same checkpoint with --swiftkv off, or another model): mean
//    KL(teacher || model) at T = 1 and top-1 agreement over the same positions;
//  - greedy continuation match: from the first `prompt_tokens` tokens of the first
//    `num_greedy` documents, both greedy-decode `greedy_tokens` tokens; reported as the mean
//    fraction of positions that agree and the share of identical continuations.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "model/llama_model.h"
#include "ops/context.h"

namespace swiftkv {

class Tokenizer;

struct EvalOptions {
  std::string data;           // dataset.h formats (a .txt file: one document per paragraph)
  int64_t max_documents = 0;  // 0 = all
  int64_t max_length = 0;     // tokens per document at most; 0 = max_position_embeddings
  int64_t num_greedy = 16;
  int64_t prompt_tokens = 16;
  int64_t greedy_tokens = 32;
};

struct EvalResult {
  int64_t num_documents = 0;
  int64_t num_tokens = 0;  // scored positions
  double perplexity = 0.0;
  bool has_teacher = false;
  double kl = 0.0;
  double top1_agreement = 0.0;
  double greedy_token_match = 0.0;
  double greedy_exact_match = 0.0;

  nlohmann::json to_json() const;
};

// `teacher` may be null (perplexity only).
EvalResult evaluate_model(const LlamaModel& model, const LlamaModel* teacher,
                          const Tokenizer& tokenizer, const ops::Context& ctx,
                          const EvalOptions& options);

}  // namespace swiftkv
