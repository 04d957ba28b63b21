#include "engine/offline_engine.h"

#include <exception>
#include <string>
#include <unordered_set>
#include <utility>

#include "core/error.h"

namespace swiftkv {

OfflineEngine::OfflineEngine(StepModel& model, const Tokenizer* tokenizer, EngineConfig config)
    : core_(model, tokenizer, config) {}

OfflineEngine::OfflineEngine(const LlamaModel& model, const Tokenizer* tokenizer, ops::Context ctx,
                             EngineConfig config)
    : owned_model_(std::make_unique<CpuStepModel>(model, ctx)),
      core_(*owned_model_, tokenizer, config) {}

std::vector<CompletionResult> OfflineEngine::generate(std::vector<Request> requests) {
  std::unordered_set<std::string> ids;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].id.empty()) {
      requests[i].id = std::to_string(i);
    }
    try {
      core_.validate(requests[i]);
    } catch (const Error& e) {
      throw Error(str_cat("request ", i, " ('", requests[i].id, "'): ", e.what()));
    }
    if (!ids.insert(requests[i].id).second) {
      throw Error(str_cat("request ", i, ": the id '", requests[i].id, "' is used twice"));
    }
  }
  std::vector<CompletionResult> results(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    CompletionResult* result = &results[i];
    result->request_id = requests[i].id;
    core_.add(std::move(requests[i]), [result](const RequestOutput& out) {
      result->output_ids.insert(result->output_ids.end(), out.new_token_ids.begin(),
                                out.new_token_ids.end());
      result->text += out.new_text;
      result->logprobs.insert(result->logprobs.end(), out.new_logprobs.begin(),
                              out.new_logprobs.end());
      result->status = out.status;
      result->error = out.error;
      result->num_prompt_tokens = out.num_prompt_tokens;
      result->num_cached_prompt_tokens = out.num_cached_prompt_tokens;
    });
  }
  while (core_.has_unfinished()) {
    core_.step();
  }
  return results;
}

}  // namespace swiftkv
