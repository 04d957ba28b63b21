// One request as the scheduler and the model runner see it: its tokens (prompt, then output),
// how many of them have their KV in the cache, its block table and its sampler.
//
// A sequence is owned by the engine core (engine/request_state.h); the scheduler's queues and
// the step's SchedulerOutput hold plain pointers to it. Preemption by recompute keeps the
// tokens and the sampler (its RNG state and penalties continue) and only forgets the KV:
// num_computed_tokens goes back to 0 and the whole sequence is prefilled again later.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/block_manager.h"
#include "engine/request.h"
#include "engine/sampler.h"

namespace swiftkv {

enum class SequenceState { kWaiting, kRunning, kFinished };

struct Sequence {
  Sequence(std::string request_id, std::vector<int32_t> prompt, const SamplingParams& params,
           std::vector<int32_t> eos_ids, int32_t num_logprobs);

  // A token sampled on the device whose value is not back yet (pipelined steps).
  static constexpr int32_t kPendingToken = -1;

  std::string id;
  std::vector<int32_t> token_ids;  // prompt, generated tokens, then the pending ones
  // Pipelined steps (engine/engine_core.h): the last num_pending_tokens entries of token_ids are
  // kPendingToken, sampled by a queued step (at most 2: the step in flight's and the newest's);
  // the newest sits at row pending_token_row of the device sampler's tokens.
  int64_t num_pending_tokens = 0;
  int32_t pending_token_row = -1;
  int64_t num_prompt_tokens = 0;
  int64_t num_computed_tokens = 0;        // tokens whose KV is in the cache
  int64_t num_cached_prompt_tokens = -1;  // prefix-cache hit at the first admission (-1: not yet)
  int64_t num_preemptions = 0;
  BlockTable block_table;
  SequenceState state = SequenceState::kWaiting;
  Sampler sampler;
  int32_t num_logprobs = -1;  // -1: none; k >= 0: sampled token's logprob + top k

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }
  // Tokens whose values are known (all but the pending ones).
  int64_t num_known_tokens() const { return num_tokens() - num_pending_tokens; }
  int64_t num_output_tokens() const { return num_known_tokens() - num_prompt_tokens; }
  const SamplingParams& params() const { return sampler.params(); }
};

}  // namespace swiftkv
