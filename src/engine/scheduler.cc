#include "engine/scheduler.h"

#include <algorithm>

#include "core/error.h"

namespace swiftkv {

Scheduler::Scheduler(SchedulerConfig config, BlockManager& block_manager)
    : config_(std::move(config)), block_manager_(block_manager) {
  SWIFTKV_CHECK(
      config_.max_num_batched_tokens > 0 && config_.max_num_seqs > 0 && config_.max_model_len > 0,
      "max_num_batched_tokens=", config_.max_num_batched_tokens,
      " max_num_seqs=", config_.max_num_seqs, " max_model_len=", config_.max_model_len);
}

void Scheduler::add(Sequence* seq) {
  SWIFTKV_CHECK(seq->state == SequenceState::kWaiting && seq->num_computed_tokens == 0 &&
                    seq->block_table.blocks.empty() && seq->num_tokens() > 0,
                "sequence ", seq->id, " is not new");
  waiting_.push_back(seq);
}

void Scheduler::finish(Sequence* seq) {
  if (seq->state == SequenceState::kRunning) {
    running_.erase(std::find(running_.begin(), running_.end(), seq));
  } else if (seq->state == SequenceState::kWaiting) {
    const auto it = std::find(waiting_.begin(), waiting_.end(), seq);
    if (it != waiting_.end()) {
      waiting_.erase(it);
    }
  }
  block_manager_.free(seq->block_table);
  seq->state = SequenceState::kFinished;
  seq->token_ids.resize(static_cast<size_t>(seq->num_known_tokens()));
  seq->num_pending_tokens = 0;
}

SchedulerOutput Scheduler::schedule() {
  SchedulerOutput out;
  schedule_running(/*decodes=*/true, out);
  schedule_running(/*decodes=*/false, out);
  if (out.preempted.empty()) {
    schedule_waiting(out);
  }
  return out;
}

void Scheduler::schedule_running(bool decodes, SchedulerOutput& out) {
  // Preemption only removes sequences from the back, at or after index i.
  for (size_t i = 0; i < running_.size(); ++i) {
    Sequence* seq = running_[i];
    const int64_t remaining = seq->num_tokens() - seq->num_computed_tokens;
    SWIFTKV_CHECK(remaining >= 1, "running sequence ", seq->id, " has nothing to compute");
    if ((remaining == 1) != decodes || ends_by_length(*seq)) {
      continue;
    }
    const int64_t budget = config_.max_num_batched_tokens - out.num_batched_tokens;
    if (budget <= 0) {
      break;
    }
    const int64_t num_new = std::min(remaining, budget);
    if (!reserve(seq, seq->num_computed_tokens + num_new, out)) {
      break;  // `seq` itself was the newest: it and everything after it is gone
    }
    out.scheduled.push_back(
        ScheduledSequence{.seq = seq, .num_new_tokens = num_new, .sample = num_new == remaining});
    out.num_batched_tokens += num_new;
  }
}

void Scheduler::schedule_waiting(SchedulerOutput& out) {
  while (!waiting_.empty() && static_cast<int64_t>(running_.size()) < config_.max_num_seqs) {
    const int64_t budget = config_.max_num_batched_tokens - out.num_batched_tokens;
    if (budget <= 0) {
      break;
    }
    Sequence* seq = waiting_.front();
    if (block_manager_.blocks_for(seq->num_tokens()) > block_manager_.num_blocks()) {
      waiting_.pop_front();
      block_manager_.free(seq->block_table);
      seq->state = SequenceState::kFinished;
      out.rejected.push_back(seq);
      continue;
    }
    // The last token is always computed (its logits are needed), even on a full hit.
    const CachedPrefix prefix = block_manager_.lookup(seq->token_ids, seq->num_tokens() - 1);
    const int64_t num_new = std::min(seq->num_tokens() - prefix.num_tokens, budget);
    if (!block_manager_.allocate(seq->block_table, prefix.num_tokens + num_new, &prefix,
                                 /*keep_watermark=*/!running_.empty())) {
      break;  // FIFO: wait for blocks
    }
    waiting_.pop_front();
    seq->num_computed_tokens = prefix.num_tokens;
    if (seq->num_cached_prompt_tokens < 0) {
      seq->num_cached_prompt_tokens = std::min(prefix.num_tokens, seq->num_prompt_tokens);
    }
    seq->state = SequenceState::kRunning;
    running_.push_back(seq);
    out.scheduled.push_back(
        ScheduledSequence{.seq = seq,
                          .num_new_tokens = num_new,
                          .sample = prefix.num_tokens + num_new == seq->num_tokens()});
    out.num_batched_tokens += num_new;
  }
}

bool Scheduler::ends_by_length(const Sequence& seq) const {
  // Counting the pending tokens: the known ones alone never reach the limits (update() ends
  // the sequence when they do).
  return seq.num_pending_tokens > 0 &&
         (seq.num_tokens() - seq.num_prompt_tokens >= seq.params().max_tokens ||
          seq.num_tokens() >= config_.max_model_len);
}

void Scheduler::launched(const SchedulerOutput& out) {
  for (const ScheduledSequence& s : out.scheduled) {
    Sequence* seq = s.seq;
    if (seq->state != SequenceState::kRunning) {
      continue;  // finished while the step was being queued (EngineCore: a stop string)
    }
    seq->num_computed_tokens += s.num_new_tokens;
    SWIFTKV_CHECK(seq->num_computed_tokens <= seq->num_tokens(), "sequence ", seq->id, " computed ",
                  seq->num_computed_tokens, " of ", seq->num_tokens(), " tokens");
    if (s.sample) {
      seq->token_ids.push_back(Sequence::kPendingToken);
      ++seq->num_pending_tokens;
    }
  }
}

void Scheduler::drop_finished(SchedulerOutput& out) {
  std::erase_if(out.scheduled, [&](const ScheduledSequence& s) {
    if (s.seq->state != SequenceState::kFinished) {
      return false;
    }
    out.num_batched_tokens -= s.num_new_tokens;
    return true;
  });
}

bool Scheduler::reserve(Sequence* seq, int64_t num_tokens, SchedulerOutput& out) {
  while (!block_manager_.allocate(seq->block_table, num_tokens)) {
    Sequence* victim = running_.back();
    if (victim == seq && running_.size() == 1) {
      // Alone with every other block free, and still no room: it never will have.
      running_.pop_back();
      block_manager_.free(seq->block_table);
      seq->state = SequenceState::kFinished;
      out.rejected.push_back(seq);
      return false;
    }
    preempt(victim, out);
    if (victim == seq) {
      return false;
    }
  }
  return true;
}

void Scheduler::preempt(Sequence* victim, SchedulerOutput& out) {
  SWIFTKV_CHECK(!running_.empty() && running_.back() == victim, "preempting ", victim->id,
                ", which is not the newest running sequence");
  running_.pop_back();
  const auto it = std::find_if(out.scheduled.begin(), out.scheduled.end(),
                               [&](const ScheduledSequence& s) { return s.seq == victim; });
  if (it != out.scheduled.end()) {
    out.num_batched_tokens -= it->num_new_tokens;
    out.scheduled.erase(it);
  }
  block_manager_.free(victim->block_table);
  victim->num_computed_tokens = 0;
  victim->state = SequenceState::kWaiting;
  ++victim->num_preemptions;
  ++num_preemptions_;
  waiting_.push_front(victim);
  out.preempted.push_back(victim);
}

std::vector<SequenceUpdate> Scheduler::update(const SchedulerOutput& out,
                                              const RunnerOutput& result) {
  SWIFTKV_CHECK(!result.error.empty() || result.sampled.size() == out.scheduled.size(),
                "runner returned ", result.sampled.size(), " results for ", out.scheduled.size(),
                " sequences");
  std::vector<SequenceUpdate> updates;
  updates.reserve(out.rejected.size() + out.scheduled.size());
  for (Sequence* seq : out.rejected) {
    updates.push_back(SequenceUpdate{
        .seq = seq,
        .status = FinishStatus::kError,
        .error =
            str_cat("the sequence needs more than the KV cache's ", block_manager_.num_blocks(),
                    " blocks of ", block_manager_.block_size(), " tokens")});
  }
  static const SampledToken kNothing;
  for (size_t i = 0; i < out.scheduled.size(); ++i) {
    if (out.scheduled[i].seq->state == SequenceState::kFinished) {
      continue;  // finished while the step ran (EngineCore: a stop string, a failed callback)
    }
    SequenceUpdate update =
        apply(out.scheduled[i], result.error.empty() ? result.sampled[i] : kNothing, result.error);
    if (update.new_token.has_value() || update.status != FinishStatus::kRunning) {
      updates.push_back(std::move(update));  // nothing to report for a non-final chunk
    }
  }
  return updates;
}

SequenceUpdate Scheduler::apply(const ScheduledSequence& s, const SampledToken& sampled,
                                const std::string& step_error) {
  Sequence* seq = s.seq;
  SequenceUpdate update{.seq = seq};
  if (!step_error.empty() || !sampled.error.empty()) {
    finish(seq);
    update.status = FinishStatus::kError;
    update.error = step_error.empty() ? sampled.error : step_error;
    return update;
  }
  if (s.sample) {
    const int32_t token = sampled.token;
    SWIFTKV_CHECK(token >= 0 && seq->num_pending_tokens > 0, "no token sampled for ", seq->id, " (",
                  seq->num_pending_tokens, " pending)");
    if (seq->num_output_tokens() == 0) {
      num_prompt_tokens_ += seq->num_prompt_tokens;
    }
    seq->token_ids[static_cast<size_t>(seq->num_known_tokens())] = token;
    --seq->num_pending_tokens;
    seq->sampler.accept(token);
    ++num_generation_tokens_;
    update.new_token = token;
    update.logprobs = sampled.logprobs;
    const SamplingParams& params = seq->params();
    update.is_stop_token = (!params.ignore_eos && contains_token(config_.eos_ids, token)) ||
                           contains_token(params.stop_token_ids, token);
    if (update.is_stop_token) {
      update.status = FinishStatus::kStop;
    } else if (seq->num_output_tokens() >= params.max_tokens ||
               seq->num_known_tokens() >= config_.max_model_len) {
      update.status = FinishStatus::kLength;
    }
  }
  if (seq->state == SequenceState::kRunning) {
    // Every token below num_computed_tokens is known now: a pending one sits at or after it.
    block_manager_.register_computed(seq->block_table, seq->token_ids, seq->num_computed_tokens);
  }
  if (update.status != FinishStatus::kRunning) {
    finish(seq);
  }
  return update;
}

SchedulerStats Scheduler::stats() const {
  return SchedulerStats{.num_running = static_cast<int64_t>(running_.size()),
                        .num_waiting = static_cast<int64_t>(waiting_.size()),
                        .num_preemptions = num_preemptions_,
                        .num_prompt_tokens = num_prompt_tokens_,
                        .num_generation_tokens = num_generation_tokens_};
}

}  // namespace swiftkv
