#include "engine/model_runner.h"

#include <algorithm>
#include <exception>
#include <span>
#include <vector>

#include "core/error.h"
#include "engine/logprobs.h"
#include "ops/device.h"

namespace swiftkv {

ModelRunner::ModelRunner(StepModel& model, int64_t num_blocks, int64_t block_size,
                         int64_t max_num_seqs)
    : model_(model), block_size_(block_size), cache_(model.allocate_cache(num_blocks, block_size)) {
  if (model.context().backend == ops::Backend::kCuda) {
    device_sampler_ = std::make_unique<DeviceSampler>(model.context(), max_num_seqs);
  }
}

BatchView ModelRunner::make_batch(const SchedulerOutput& out) const {
  const auto num_seqs = static_cast<int64_t>(out.scheduled.size());
  const int64_t num_tokens = out.num_batched_tokens;
  size_t max_blocks = 1;
  for (const ScheduledSequence& s : out.scheduled) {
    max_blocks = std::max(max_blocks, s.seq->block_table.blocks.size());
  }
  std::vector<int32_t> token_ids;
  std::vector<int32_t> positions;
  std::vector<int32_t> slots;
  token_ids.reserve(static_cast<size_t>(num_tokens));
  positions.reserve(static_cast<size_t>(num_tokens));
  slots.reserve(static_cast<size_t>(num_tokens));
  std::vector<int32_t> query_start = {0};
  std::vector<int32_t> kv_lens;
  std::vector<int32_t> block_tables(static_cast<size_t>(num_seqs) * max_blocks, 0);
  std::vector<int32_t> num_logits;
  std::vector<int32_t> token_source_rows;  // (row, device token row) of each pending token
  for (int64_t s = 0; s < num_seqs; ++s) {
    const ScheduledSequence& scheduled = out.scheduled[static_cast<size_t>(s)];
    const Sequence& seq = *scheduled.seq;
    const std::vector<int32_t>& blocks = seq.block_table.blocks;
    const int64_t begin = seq.num_computed_tokens;
    const int64_t end = begin + scheduled.num_new_tokens;
    SWIFTKV_CHECK(scheduled.num_new_tokens > 0 && end <= seq.num_tokens() &&
                      block_size_ * static_cast<int64_t>(blocks.size()) >= end,
                  "sequence ", seq.id, ": tokens [", begin, ", ", end, ") of ", seq.num_tokens(),
                  " with ", blocks.size(), " blocks");
    for (int64_t pos = begin; pos < end; ++pos) {
      const int32_t token = seq.token_ids[static_cast<size_t>(pos)];
      if (token == Sequence::kPendingToken) {
        SWIFTKV_CHECK(
            device_sampler_ != nullptr && pos + 1 == seq.num_tokens() && seq.pending_token_row >= 0,
            "sequence ", seq.id, ": pending token at ", pos, " of ", seq.num_tokens(),
            " without a device token to read");
        token_source_rows.push_back(static_cast<int32_t>(token_ids.size()));
        token_source_rows.push_back(seq.pending_token_row);
      }
      token_ids.push_back(token == Sequence::kPendingToken ? 0 : token);
      positions.push_back(static_cast<int32_t>(pos));
      slots.push_back(static_cast<int32_t>(
          blocks[static_cast<size_t>(pos / block_size_)] * block_size_ + pos % block_size_));
    }
    query_start.push_back(static_cast<int32_t>(token_ids.size()));
    kv_lens.push_back(static_cast<int32_t>(end));
    std::copy(
        blocks.begin(), blocks.end(),
        block_tables.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(s) * max_blocks));
    num_logits.push_back(scheduled.sample ? 1 : 0);
  }
  SWIFTKV_CHECK(static_cast<int64_t>(token_ids.size()) == num_tokens, "scheduled ",
                token_ids.size(), " tokens, counted ", num_tokens);
  BatchView batch;
  batch.token_ids = Tensor::from_i32({num_tokens}, token_ids);
  batch.positions = Tensor::from_i32({num_tokens}, positions);
  batch.slot_mapping = Tensor::from_i32({num_tokens}, slots);
  batch.attention.query_start_loc = Tensor::from_i32({num_seqs + 1}, query_start);
  batch.attention.kv_lens = Tensor::from_i32({num_seqs}, kv_lens);
  batch.attention.block_tables =
      Tensor::from_i32({num_seqs, static_cast<int64_t>(max_blocks)}, block_tables);
  batch.num_logits = Tensor::from_i32({num_seqs}, num_logits);
  if (!token_source_rows.empty()) {
    const auto num_pairs = static_cast<int64_t>(token_source_rows.size() / 2);
    batch.token_source_rows = Tensor::from_i32({num_pairs, 2}, token_source_rows);
    batch.token_source = device_sampler_->device_tokens();
  }
  return batch;
}

bool ModelRunner::samples_on_device(const Sequence& seq) {
  return seq.num_logprobs < 0 && seq.sampler.device_sampleable();
}

std::vector<DeviceSampleRow> ModelRunner::device_rows(const SchedulerOutput& out,
                                                      bool all_on_device) {
  std::vector<DeviceSampleRow> rows;
  for (const ScheduledSequence& s : out.scheduled) {
    if (!s.sample) {
      continue;
    }
    Sequence& seq = *s.seq;
    const bool on_device = all_on_device || samples_on_device(seq);
    seq.pending_token_row = static_cast<int32_t>(rows.size());
    // The draw's offset: this token's index among the sequence's generated tokens.
    rows.push_back({.sampler = on_device ? &seq.sampler : nullptr,
                    .offset = seq.num_output_tokens() + seq.num_pending_tokens});
  }
  return rows;
}

bool ModelRunner::can_launch(const SchedulerOutput& out) const {
  if (device_sampler_ == nullptr || !model_.takes_device_tokens()) {
    return false;
  }
  return std::all_of(out.scheduled.begin(), out.scheduled.end(), [](const ScheduledSequence& s) {
    return !s.sample || samples_on_device(*s.seq);
  });
}

void ModelRunner::launch(const SchedulerOutput& out) {
  Launched step;
  step.num_scheduled = out.scheduled.size();
  for (size_t i = 0; i < out.scheduled.size(); ++i) {
    if (out.scheduled[i].sample) {
      step.rows.push_back(i);
    }
  }
  try {
    SWIFTKV_CHECK(can_launch(out), "launching a step the device cannot sample alone");
    const Tensor logits = model_.forward(make_batch(out), cache_);
    SWIFTKV_CHECK(logits.dim(0) == static_cast<int64_t>(step.rows.size()), "forward returned ",
                  logits.dim(0), " logits rows for ", step.rows.size(), " sampling sequences");
    device_sampler_->launch(logits, device_rows(out, /*all_on_device=*/true));
  } catch (const std::exception& e) {
    step.error = str_cat("model step failed: ", e.what());
  }
  launched_.push_back(std::move(step));
}

RunnerOutput ModelRunner::collect() {
  RunnerOutput result;
  if (launched_.empty()) {
    result.error = "collect() without a launched step";
    return result;
  }
  const Launched step = std::move(launched_.front());
  launched_.pop_front();
  if (!step.error.empty()) {
    result.error = step.error;
    return result;
  }
  result.sampled.resize(step.num_scheduled);
  try {
    const std::vector<int32_t> tokens = device_sampler_->collect();
    SWIFTKV_CHECK(tokens.size() == step.rows.size(), "sampled ", tokens.size(), " tokens for ",
                  step.rows.size(), " rows");
    for (size_t r = 0; r < step.rows.size(); ++r) {
      result.sampled[step.rows[r]].token = tokens[r];
    }
  } catch (const std::exception& e) {
    for (const size_t i : step.rows) {
      result.sampled[i].error = str_cat("sampling failed: ", e.what());
    }
  }
  return result;
}

void ModelRunner::sample_on_host(Sequence& seq, std::span<float> logits, SampledToken& sampled) {
  try {
    sampled.token = seq.sampler.sample(logits);
    if (seq.num_logprobs >= 0) {
      sampled.logprobs = compute_logprobs(logits, sampled.token, seq.num_logprobs);
    }
  } catch (const std::exception& e) {
    sampled.error = str_cat("sampling failed: ", e.what());
  }
}

void ModelRunner::sample_on_device(const SchedulerOutput& out, const Tensor& logits,
                                   RunnerOutput& result,
                                   const std::function<void()>& while_device_runs) {
  std::vector<size_t> rows;  // scheduled index of each logits row
  for (size_t i = 0; i < out.scheduled.size(); ++i) {
    if (out.scheduled[i].sample) {
      rows.push_back(i);
    }
  }
  const std::vector<DeviceSampleRow> samplers = device_rows(out, /*all_on_device=*/false);
  std::vector<int32_t> tokens;
  try {
    tokens = device_sampler_->sample(logits, samplers, while_device_runs);
  } catch (const std::exception& e) {
    for (const size_t i : rows) {
      result.sampled[i].error = str_cat("sampling failed: ", e.what());
    }
    return;
  }
  const ops::Context& ctx = model_.context();
  for (size_t r = 0; r < rows.size(); ++r) {
    SampledToken& sampled = result.sampled[rows[r]];
    if (samplers[r].sampler != nullptr) {
      sampled.token = tokens[r];
      continue;
    }
    Tensor host;
    try {
      host = ops::to_host(ctx, logits.rows(static_cast<int64_t>(r), static_cast<int64_t>(r) + 1));
    } catch (const std::exception& e) {
      sampled.error = str_cat("sampling failed: ", e.what());
      continue;
    }
    sample_on_host(*out.scheduled[rows[r]].seq,
                   std::span<float>(host.data<float>(), static_cast<size_t>(host.numel())),
                   sampled);
  }
}

RunnerOutput ModelRunner::execute(const SchedulerOutput& out,
                                  const std::function<void()>& while_device_runs) {
  RunnerOutput result;
  Tensor logits;
  try {
    logits = model_.forward(make_batch(out), cache_);
    const auto num_sampling = std::count_if(out.scheduled.begin(), out.scheduled.end(),
                                            [](const ScheduledSequence& s) { return s.sample; });
    SWIFTKV_CHECK(logits.dim(0) == num_sampling, "forward returned ", logits.dim(0),
                  " logits rows for ", num_sampling, " sampling sequences");
  } catch (const std::exception& e) {
    result.error = str_cat("model step failed: ", e.what());
    return result;
  }
  result.sampled.resize(out.scheduled.size());
  if (logits.device() == Device::kCuda) {
    sample_on_device(out, logits, result, while_device_runs);
    return result;
  }
  const int64_t vocab = logits.dim(1);
  int64_t row = 0;
  for (size_t i = 0; i < out.scheduled.size(); ++i) {
    const ScheduledSequence& s = out.scheduled[i];
    if (!s.sample) {
      continue;
    }
    const std::span<float> row_logits(logits.data<float>() + row * vocab,
                                      static_cast<size_t>(vocab));
    ++row;
    sample_on_host(*s.seq, row_logits, result.sampled[i]);
  }
  return result;
}

}  // namespace swiftkv
