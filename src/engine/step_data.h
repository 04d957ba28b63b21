// The data that flows through one engine step (DESIGN.md §2):
//   scheduler.schedule() -> SchedulerOutput -> runner.execute() -> RunnerOutput
//   -> scheduler.update() -> SequenceUpdates -> request outputs (engine/engine_core.h).
// Plain structs only; sequences are referenced by pointer (owned by the engine core).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/request.h"
#include "engine/sequence.h"

namespace swiftkv {

// One sequence's share of a step: its tokens [num_computed_tokens, + num_new_tokens) are
// computed (KV written), and when that reaches the end of its tokens its next token is sampled
// from the last row (the only row that needs logits: non-final prefill chunks need none).
struct ScheduledSequence {
  Sequence* seq = nullptr;
  int64_t num_new_tokens = 0;
  bool sample = false;
};

struct SchedulerOutput {
  std::vector<ScheduledSequence> scheduled{};  // in batch row order
  int64_t num_batched_tokens = 0;              // sum of num_new_tokens
  std::vector<Sequence*> preempted{};          // preempted this step (back in the waiting queue)
  std::vector<Sequence*> rejected{};           // can never fit the cache: they fail

  bool empty() const { return scheduled.empty() && rejected.empty(); }
};

// What the runner produced for one scheduled sequence (only meaningful when it sampled).
struct SampledToken {
  int32_t token = -1;
  std::optional<TokenLogprobs> logprobs{};  // when the request asked for logprobs
  std::string error{};                      // sampling failed for this sequence only
};

struct RunnerOutput {
  std::vector<SampledToken> sampled{};  // one per SchedulerOutput::scheduled entry
  std::string error{};                  // the forward pass failed: every scheduled sequence fails
};

// What happened to one sequence in a step, for the output processor.
struct SequenceUpdate {
  Sequence* seq = nullptr;
  std::optional<int32_t> new_token{};       // the token sampled this step
  std::optional<TokenLogprobs> logprobs{};  // its logprobs, when asked for
  bool is_stop_token = false;               // EOS or a stop token id: never part of the text
  FinishStatus status = FinishStatus::kRunning;
  std::string error{};  // when status == kError
};

}  // namespace swiftkv
