// The serving engine: continuous batching over a paged KV cache, on its own thread.
//
// Contract (DESIGN.md §2, §4): one engine thread runs the step loop
//   scheduler.schedule() -> SchedulerOutput -> runner.execute() -> scheduler.update()
// and never sees JSON. Other threads talk to it only through this class, which is thread-safe:
// add_request() enqueues (bounded: max_queued_requests), abort() cancels (blocks freed at the
// next step), stats() reads counters. Output deltas are delivered by calling the request's
// callback on the engine thread; callbacks must be quick and must not call back into the
// engine except abort(). An exception inside a step fails the affected requests (status
// kError) and the engine keeps running; if the engine cannot continue, it reports dead()
// and fails every request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/request.h"
#include "engine/step_model.h"
#include "model/llama_model.h"
#include "ops/context.h"

namespace swiftkv {

class Tokenizer;

struct EngineConfig {
  int64_t block_size = 16;
  int64_t num_blocks = 0;     // KV cache blocks (planned from memory by the caller)
  int64_t max_model_len = 0;  // context limit (prompt + output); 0 = model's max
  int64_t max_num_batched_tokens = 8192;
  int64_t max_num_seqs = 256;
  int64_t max_queued_requests = 1024;  // waiting requests beyond this are refused
  bool enable_prefix_caching = true;
  // Pipelined steps on CUDA (engine_core.h): queue step N + 1 before step N's tokens are back.
  bool pipelined_steps = true;
};

struct EngineStats {
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  int64_t num_blocks_total = 0;
  int64_t num_blocks_used = 0;        // referenced by live requests
  int64_t num_preemptions = 0;        // total since start
  int64_t prefix_cache_queries = 0;   // prompt tokens looked up (total)
  int64_t prefix_cache_hits = 0;      // prompt tokens found cached (total)
  int64_t num_prompt_tokens = 0;      // processed (total)
  int64_t num_generation_tokens = 0;  // generated (total)
  // Where the engine thread's steps spent their time (totals since start, wall seconds):
  // scheduling, the model step with sampling (device time included), and the per-request output
  // work (detokenization, stop strings, the callbacks).
  int64_t num_steps = 0;
  int64_t num_pipelined_steps = 0;  // of num_steps: queued before the previous one's tokens
  double schedule_seconds = 0.0;
  double execute_seconds = 0.0;
  double output_seconds = 0.0;
  bool dead = false;
};

// Thrown by add_request when the waiting queue is full (HTTP 429).
class QueueFullError : public Error {
 public:
  using Error::Error;
};

// Thrown by add_request after shutdown() began or once the engine is dead (HTTP 503).
class EngineUnavailableError : public Error {
 public:
  using Error::Error;
};

class Engine {
 public:
  using OutputCallback = std::function<void(const RequestOutput&)>;

  // Starts the engine thread. `model` and `tokenizer` must outlive the engine; the engine
  // thread is the only user of `model` until the engine is destroyed.
  Engine(StepModel& model, const Tokenizer& tokenizer, EngineConfig config);
  // The same on a CPU model (a CpuStepModel over `model` and `ctx`).
  Engine(const LlamaModel& model, const Tokenizer& tokenizer, ops::Context ctx,
         EngineConfig config);
  ~Engine();  // stops the thread; live requests end with kAbort
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates (prompt non-empty, ids in vocab, prompt + 1 <= max_model_len, sampling valid:
  // throws Error naming the problem) and enqueues. Throws QueueFullError when full.
  void add_request(Request request, OutputCallback on_output);
  // Cancels a request (no-op if unknown or finished); its callback gets a final kAbort delta.
  void abort(const std::string& request_id);
  // Stops taking requests; waits up to `timeout` for live ones, then aborts the rest, and stops
  // the engine thread. Returns when it has stopped; later calls return at once. Not from a
  // callback (it would wait for itself).
  void shutdown(std::chrono::milliseconds timeout);

  EngineStats stats() const;
  const EngineConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace swiftkv
