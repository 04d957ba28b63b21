// The offline API: run a list of requests to completion with continuous batching, on the
// calling thread (no engine thread, no queue limit), like vLLM's LLM.generate. Used by
// `swiftkv bench throughput` and tests. The KV cache is allocated once per OfflineEngine, so
// repeated generate() calls reuse it (and its prefix cache).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/engine_core.h"

namespace swiftkv {

struct CompletionResult {
  std::string request_id;
  std::vector<int32_t> output_ids;      // generated tokens (a final EOS / stop token included)
  std::string text;                     // empty without a tokenizer
  std::vector<TokenLogprobs> logprobs;  // one per output token when logprobs >= 0
  FinishStatus status = FinishStatus::kRunning;
  std::string error;
  int64_t num_prompt_tokens = 0;
  int64_t num_cached_prompt_tokens = 0;
};

class OfflineEngine {
 public:
  // `tokenizer` may be null: no text and no stop strings. Throws Error for a bad config.
  // `model` (and `tokenizer`) must outlive the engine.
  OfflineEngine(StepModel& model, const Tokenizer* tokenizer, EngineConfig config);
  // The same on a CPU model (a CpuStepModel over `model` and `ctx`).
  OfflineEngine(const LlamaModel& model, const Tokenizer* tokenizer, ops::Context ctx,
                EngineConfig config);

  // Validates every request first (throws Error naming the request), then runs them all.
  // Results are in request order. Empty ids are replaced by the request's index.
  std::vector<CompletionResult> generate(std::vector<Request> requests);

  const EngineConfig& config() const { return core_.config(); }
  EngineStats stats() const { return core_.stats(); }

 private:
  std::unique_ptr<StepModel> owned_model_;  // the LlamaModel constructor's CpuStepModel
  EngineCore core_;
};

}  // namespace swiftkv
