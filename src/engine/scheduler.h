// Continuous batching over the paged KV cache (DESIGN.md §4), vLLM v1 style: every sequence is
// "tokens computed so far" vs "tokens it has"; a step computes a slice of each scheduled one.
//
// schedule(), with a budget of max_num_batched_tokens tokens and at most max_num_seqs running:
//   1. running decodes (one token each), oldest first;
//   2. running prefills in progress (chunked prefill: a long prompt spans steps), oldest first;
//   3. waiting sequences in FIFO order (new requests and preempted ones, which go to the
//      front): prefix-cache lookup, then a first chunk, keeping the block manager's watermark
//      free; none are admitted in a step that had to preempt.
// When a running sequence cannot get a block, the newest running sequence is preempted by
// recompute (its blocks freed, requeued at the front of the waiting queue). A sequence that
// cannot fit even in an empty cache is rejected (kError).
// launched() records that a step's work is queued: advances the computed counts and appends a
// kPendingToken for each sequence that samples. update() applies the runner's results: fills
// the oldest pending token of each sampling sequence, registers newly full blocks for prefix
// caching, and finishes sequences on EOS / stop token (kStop), max_tokens / max_model_len
// (kLength) or errors (kError), freeing their blocks. It returns an update for each sequence
// that got a token or finished (none for a non-final prefill chunk).
//
// Pipelined steps (engine_core.h) schedule step N + 1 before update() has seen step N: a
// sequence then decodes its pending token (the model reads it on the device), except when that
// token is bound to end it by length (max_tokens, max_model_len), when it waits for update().
// A sequence finished while a step that holds it runs (EOS seen one step late, a stop string,
// an abort) is skipped by that step's update(); its blocks are free again for the steps after.
//
// Not thread-safe: the engine thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "engine/block_manager.h"
#include "engine/step_data.h"

namespace swiftkv {

struct SchedulerConfig {
  int64_t max_num_batched_tokens = 8192;
  int64_t max_num_seqs = 256;
  int64_t max_model_len = 0;     // finish with kLength when a sequence reaches it
  std::vector<int32_t> eos_ids;  // the model's end tokens (kStop unless ignore_eos)
};

struct SchedulerStats {
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  int64_t num_preemptions = 0;        // total
  int64_t num_prompt_tokens = 0;      // prompts whose prefill completed (total tokens)
  int64_t num_generation_tokens = 0;  // sampled tokens (total)
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig config, BlockManager& block_manager);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a new sequence (state kWaiting, nothing computed) at the back of the waiting queue.
  void add(Sequence* seq);
  // Removes a live sequence from the queues and frees its blocks (abort, stop string, error).
  void finish(Sequence* seq);

  SchedulerOutput schedule();
  void launched(const SchedulerOutput& out);
  std::vector<SequenceUpdate> update(const SchedulerOutput& out, const RunnerOutput& result);
  // Removes the sequences finished since `out` was scheduled from it.
  static void drop_finished(SchedulerOutput& out);

  bool has_unfinished() const { return !running_.empty() || !waiting_.empty(); }
  SchedulerStats stats() const;
  const SchedulerConfig& config() const { return config_; }

 private:
  // Makes room for `seq` to hold `num_tokens` slots, preempting the newest running sequences
  // (possibly `seq` itself: then returns false).
  bool reserve(Sequence* seq, int64_t num_tokens, SchedulerOutput& out);
  // Whether a pending token will end `seq` by length when update() sees it.
  bool ends_by_length(const Sequence& seq) const;
  void preempt(Sequence* victim, SchedulerOutput& out);
  void schedule_running(bool decodes, SchedulerOutput& out);
  void schedule_waiting(SchedulerOutput& out);
  SequenceUpdate apply(const ScheduledSequence& s, const SampledToken& sampled,
                       const std::string& step_error);

  SchedulerConfig config_;
  BlockManager& block_manager_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;  // in admission order: the back is the newest
  int64_t num_preemptions_ = 0;
  int64_t num_prompt_tokens_ = 0;
  int64_t num_generation_tokens_ = 0;
};

}  // namespace swiftkv
