// The serving engine's single-threaded core: live requests, the block manager, the scheduler
// and the model runner, and the step loop (DESIGN.md §2):
//
//   SchedulerOutput out = scheduler.schedule();
//   RunnerOutput result = runner.execute(out);
//   for (SequenceUpdate u : scheduler.update(out, result)) deliver(request(u).make_output(u));
//
// On CUDA the last line of step N runs while the device computes step N + 1: the updates are
// kept, and the runner calls back once the next step's work is queued (scheduling needs only
// the scheduler's state, which update() has already advanced). The per-request output work
// (detokenization, stop strings, the callbacks; ~2 ms a step at 256 sequences) then hides
// behind the device. A sequence that this late output work finishes (a stop string, a failed
// callback) may already sit in step N + 1's batch: update() skips finished sequences, and
// finished requests' states are kept until the end of the step that may still name them.
//
// Pipelined steps (CUDA, one device, EngineConfig::pipelined_steps): when every row of step
// N + 1 is one the GPU samples alone, the core schedules and queues step N + 1 right after
// queueing step N, and only then waits for step N's tokens and runs its update and outputs, so
// the host's whole step (scheduling, batch building, uploads, the token download, update,
// outputs) hides behind the device's. Step N + 1 reads step N's tokens on the device
// (Sequence::kPendingToken, model_runner.h); a sequence that step N ends (EOS) has computed one
// token too many in step N + 1, which update() drops (scheduler.h). A step with rows sampled on
// the host (logprobs, penalties, JSON) waits for the step in flight first and runs as above.
//
// The threaded Engine (engine.h) and the offline API (offline_engine.h) drive it. Failures stay
// local: a failed forward pass fails the step's sequences, a failed sampling call or output
// callback fails its request (kError), and only a broken invariant in the scheduler kills the
// core (dead(): every request fails, nothing runs any more). No exception leaves step().
//
// Not thread-safe: one thread calls everything (validate() and config() are const and may be
// called from any thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/block_manager.h"
#include "engine/engine.h"
#include "engine/model_runner.h"
#include "engine/request_state.h"
#include "engine/scheduler.h"
#include "engine/step_model.h"

namespace swiftkv {

class EngineCore {
 public:
  // `tokenizer` may be null (no text, no stop strings: benchmarks). Throws Error for a bad
  // config (e.g. a cache that cannot hold one max_model_len sequence). `config.max_model_len`
  // 0 is resolved to the model's max_position_embeddings. `model` must outlive the core.
  EngineCore(StepModel& model, const Tokenizer* tokenizer, EngineConfig config);
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  const EngineConfig& config() const { return config_; }

  // Throws Error naming the problem: empty prompt, token outside the vocabulary, prompt + 1 >
  // max_model_len, invalid sampling parameters or logprobs.
  void validate(const Request& request) const;
  // Queues a validated request. Throws Error when its id is already live.
  void add(Request request, RequestCallback on_output);
  // Ends a live request with a final delta (`status` kAbort or kError); false if unknown.
  bool abort(const std::string& request_id, FinishStatus status = FinishStatus::kAbort,
             std::string error = {});
  void abort_all(FinishStatus status, const std::string& error);

  // One schedule -> execute -> update step (expired deadlines are aborted first); the outputs
  // of the previous step are delivered during it (header), or at its end when nothing runs.
  void step();

  bool has_unfinished() const { return !requests_.empty() || in_flight_.has_value(); }
  bool dead() const { return dead_; }
  EngineStats stats() const;

 private:
  // Pipelined: queues `out` and completes the step before it while the device runs.
  void step_pipelined(SchedulerOutput out);
  // Step by step: completes the step in flight, then runs `out` (outputs overlap on CUDA).
  void step_in_order(SchedulerOutput out);
  // Waits for the step in flight (if any), applies its update and delivers its outputs.
  void complete_in_flight();
  void process(const SequenceUpdate& update);
  // Processes the kept updates of the last step (nothing if none).
  void flush_outputs();
  // The tokenizer's token texts for the JSON-object constraint (built on first use).
  std::shared_ptr<const TokenTexts> token_texts();
  // Calls the request's callback; a final delta (or a failing callback) ends the request.
  void deliver(const std::string& request_id, const RequestOutput& output);
  void expire_deadlines();
  void die(const std::string& reason);

  const StepModel& model_;
  const Tokenizer* tokenizer_;
  EngineConfig config_;
  std::vector<int32_t> eos_ids_;
  BlockManager block_manager_;
  Scheduler scheduler_;
  ModelRunner runner_;
  std::unordered_map<std::string, std::unique_ptr<RequestState>> requests_;
  bool dead_ = false;
  std::shared_ptr<const TokenTexts> token_texts_;
  std::vector<SequenceUpdate> pending_updates_;  // of the last step, not yet processed
  std::optional<SchedulerOutput> in_flight_;     // pipelined: launched, not yet completed
  // Finished requests whose sequences a running step or pending_updates_ may still point to.
  std::vector<std::unique_ptr<RequestState>> retired_;
  int64_t num_steps_ = 0;
  int64_t num_pipelined_steps_ = 0;
  double schedule_seconds_ = 0.0;
  double execute_seconds_ = 0.0;
  double output_seconds_ = 0.0;
};

// The EngineConfig with max_model_len resolved, checked against the model (throws Error).
EngineConfig resolve_engine_config(const ModelConfig& model, EngineConfig config);

}  // namespace swiftkv
