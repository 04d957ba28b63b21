#include "engine/engine_core.h"

#include <chrono>
#include <climits>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/logging.h"

namespace swiftkv {

EngineConfig resolve_engine_config(const ModelConfig& model, EngineConfig config) {
  const int64_t model_max = model.max_position_embeddings;
  if (config.block_size < 1 || config.num_blocks < 1) {
    throw Error(str_cat("the KV cache needs block_size >= 1 and num_blocks >= 1, got ",
                        config.block_size, " and ", config.num_blocks));
  }
  if (config.num_blocks * config.block_size > INT32_MAX) {
    throw Error(str_cat("the KV cache of ", config.num_blocks, " blocks of ", config.block_size,
                        " tokens has more slots than 32-bit slot indices address"));
  }
  if (config.max_model_len == 0) {
    config.max_model_len = model_max;
  }
  if (config.max_model_len < 2 || config.max_model_len > model_max) {
    throw Error(str_cat("max_model_len must be in [2, ", model_max,
                        "] (the model's max_position_embeddings), got ", config.max_model_len));
  }
  if (config.num_blocks * config.block_size < config.max_model_len) {
    throw Error(str_cat("the KV cache holds ", config.num_blocks * config.block_size, " tokens (",
                        config.num_blocks, " blocks of ", config.block_size,
                        "), less than one sequence of max_model_len ", config.max_model_len,
                        " tokens: give it more memory or lower max_model_len"));
  }
  if (config.max_num_batched_tokens < 1 || config.max_num_seqs < 1 ||
      config.max_queued_requests < 0) {
    throw Error(
        str_cat("max_num_batched_tokens and max_num_seqs must be >= 1 and "
                "max_queued_requests >= 0, got ",
                config.max_num_batched_tokens, ", ", config.max_num_seqs, ", ",
                config.max_queued_requests));
  }
  return config;
}

namespace {

std::vector<int32_t> eos_ids_of(const ModelConfig& model) {
  std::vector<int32_t> ids;
  for (const int64_t id : model.eos_token_ids) {
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

// Runs a callback; returns why it failed ("" when it did not).
std::string call_safely(const RequestCallback& callback, const RequestOutput& output) {
  try {
    callback(output);
    return {};
  } catch (const std::exception& e) {
    const std::string what = e.what();
    return what.empty() ? "exception without a message" : what;
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

EngineCore::EngineCore(StepModel& model, const Tokenizer* tokenizer, EngineConfig config)
    : model_(model),
      tokenizer_(tokenizer),
      config_(resolve_engine_config(model.config(), config)),
      eos_ids_(eos_ids_of(model.config())),
      block_manager_(config_.num_blocks, config_.block_size, config_.enable_prefix_caching),
      scheduler_(SchedulerConfig{.max_num_batched_tokens = config_.max_num_batched_tokens,
                                 .max_num_seqs = config_.max_num_seqs,
                                 .max_model_len = config_.max_model_len,
                                 .eos_ids = eos_ids_},
                 block_manager_),
      runner_(model, config_.num_blocks, config_.block_size, config_.max_num_seqs) {}

void EngineCore::validate(const Request& request) const {
  const int64_t vocab_size = model_.config().vocab_size;
  if (request.prompt_ids.empty()) {
    throw Error("the prompt is empty (no tokens, not even BOS)");
  }
  const auto num_prompt = static_cast<int64_t>(request.prompt_ids.size());
  if (num_prompt + 1 > config_.max_model_len) {
    throw Error(str_cat("the prompt has ", num_prompt, " tokens; the context (max_model_len) is ",
                        config_.max_model_len, " tokens, prompt plus at least one generated"));
  }
  for (const int32_t token : request.prompt_ids) {
    if (token < 0 || token >= vocab_size) {
      throw Error(
          str_cat("prompt token ", token, " is outside the vocabulary (size ", vocab_size, ")"));
    }
  }
  request.sampling.validate(vocab_size);
  if (request.sampling.json_object && tokenizer_ == nullptr) {
    throw Error("response_format json_object needs the model's tokenizer, and none is loaded");
  }
  if (request.logprobs < -1 || request.logprobs > vocab_size) {
    throw Error(
        str_cat("logprobs must be -1 (none) or in [0, ", vocab_size, "], got ", request.logprobs));
  }
}

void EngineCore::add(Request request, RequestCallback on_output) {
  SWIFTKV_CHECK(!dead_, "adding a request to a dead engine");
  std::string id = request.id;
  auto state = std::make_unique<RequestState>(std::move(request), std::move(on_output), tokenizer_,
                                              eos_ids_);
  if (state->seq().params().json_object) {
    state->seq().sampler.constrain_to_json_object(token_texts());
  }
  const auto [it, inserted] = requests_.emplace(id, std::move(state));
  if (!inserted) {
    throw Error(str_cat("request id '", id, "' is already in use"));
  }
  scheduler_.add(&it->second->seq());
}

bool EngineCore::abort(const std::string& request_id, FinishStatus status, std::string error) {
  flush_outputs();  // the request's last tokens before its final delta
  const auto it = requests_.find(request_id);
  if (it == requests_.end()) {
    return false;
  }
  scheduler_.finish(&it->second->seq());
  deliver(request_id, it->second->make_final(status, std::move(error)));
  return true;
}

void EngineCore::abort_all(FinishStatus status, const std::string& error) {
  std::vector<std::string> ids;
  for (const auto& [id, state] : requests_) {
    ids.push_back(id);
  }
  for (const std::string& id : ids) {
    abort(id, status, error);
  }
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point from) {
  return std::chrono::duration<double>(Clock::now() - from).count();
}

}  // namespace

void EngineCore::step() {
  if (dead_) {
    return;
  }
  try {
    const Clock::time_point start = Clock::now();
    expire_deadlines();
    SchedulerOutput out = scheduler_.schedule();
    schedule_seconds_ += seconds_since(start);
    if (config_.pipelined_steps && !out.scheduled.empty() && runner_.can_launch(out)) {
      step_pipelined(std::move(out));
    } else {
      step_in_order(std::move(out));
    }
    ++num_steps_;
  } catch (const std::exception& e) {
    die(str_cat("engine step failed: ", e.what()));
  } catch (...) {
    die("engine step failed: unknown exception");
  }
}

void EngineCore::step_pipelined(SchedulerOutput out) {
  if (!pending_updates_.empty()) {
    // Left by a step-by-step step (so nothing is in flight): deliver them before queueing,
    // since they may finish sequences of `out` (stop strings).
    flush_outputs();
    Scheduler::drop_finished(out);
    if (out.scheduled.empty()) {
      step_in_order(std::move(out));
      return;
    }
  }
  const Clock::time_point start = Clock::now();
  runner_.launch(out);
  scheduler_.launched(out);
  ++num_pipelined_steps_;
  execute_seconds_ += seconds_since(start);
  complete_in_flight();
  in_flight_ = std::move(out);
}

void EngineCore::step_in_order(SchedulerOutput out) {
  if (in_flight_.has_value()) {
    complete_in_flight();  // host sampling needs every earlier token
    Scheduler::drop_finished(out);
  }
  const Clock::time_point start = Clock::now();
  const double output_before = output_seconds_;
  RunnerOutput result;
  bool overlapped = false;  // the last step's outputs were processed during this one
  if (!out.scheduled.empty()) {
    std::exception_ptr output_error;
    result = runner_.execute(out, [&] {
      overlapped = true;
      try {
        flush_outputs();
      } catch (...) {
        output_error = std::current_exception();
      }
    });
    if (output_error) {
      std::rethrow_exception(output_error);
    }
  }
  execute_seconds_ += seconds_since(start) - (output_seconds_ - output_before);
  flush_outputs();  // if the runner did not call back (nothing ran, CPU, a failed step)
  scheduler_.launched(out);
  pending_updates_ = scheduler_.update(out, result);
  if (!overlapped) {
    flush_outputs();  // this step could not hide output work, so the next likely cannot
  }
  retired_.clear();
}

void EngineCore::complete_in_flight() {
  if (!in_flight_.has_value()) {
    return;
  }
  const SchedulerOutput out = std::move(*in_flight_);
  in_flight_.reset();
  // Requests finished before now are named by no step still queued: `out` was the last.
  std::vector<std::unique_ptr<RequestState>> done = std::move(retired_);
  retired_.clear();
  const Clock::time_point start = Clock::now();
  const RunnerOutput result = runner_.collect();
  execute_seconds_ += seconds_since(start);
  pending_updates_ = scheduler_.update(out, result);
  flush_outputs();
}

std::shared_ptr<const TokenTexts> EngineCore::token_texts() {
  if (token_texts_ == nullptr) {
    SWIFTKV_CHECK(tokenizer_ != nullptr, "token_texts without a tokenizer");
    auto texts = std::make_shared<TokenTexts>();
    const auto vocab = static_cast<size_t>(tokenizer_->vocab_size());
    texts->bytes.resize(vocab);
    texts->special.resize(vocab);
    for (size_t id = 0; id < vocab; ++id) {
      const auto token = static_cast<int32_t>(id);
      texts->special[id] = tokenizer_->is_special(token);
      if (!texts->special[id]) {
        tokenizer_->append_token_bytes(token, texts->bytes[id]);
      }
    }
    token_texts_ = std::move(texts);
  }
  return token_texts_;
}

void EngineCore::flush_outputs() {
  if (pending_updates_.empty()) {
    return;
  }
  const Clock::time_point start = Clock::now();
  const std::vector<SequenceUpdate> updates = std::move(pending_updates_);
  pending_updates_.clear();
  for (const SequenceUpdate& update : updates) {
    process(update);
  }
  output_seconds_ += seconds_since(start);
}

void EngineCore::process(const SequenceUpdate& update) {
  const auto it = requests_.find(update.seq->id);
  if (it == requests_.end()) {
    return;  // aborted since the update was made
  }
  const std::string id = it->first;
  RequestState& state = *it->second;
  RequestOutput output;
  try {
    output = state.make_output(update);
  } catch (const std::exception& e) {
    output =
        state.make_final(FinishStatus::kError, str_cat("output processing failed: ", e.what()));
  }
  if (output.status != FinishStatus::kRunning && state.seq().state != SequenceState::kFinished) {
    scheduler_.finish(&state.seq());  // a stop string or an output error
  }
  deliver(id, output);
}

void EngineCore::deliver(const std::string& request_id, const RequestOutput& output) {
  const auto it = requests_.find(request_id);
  SWIFTKV_CHECK(it != requests_.end(), "delivering to unknown request ", request_id);
  RequestState& state = *it->second;
  bool final = output.status != FinishStatus::kRunning;
  const std::string failure = call_safely(state.callback(), output);
  if (!failure.empty()) {
    log_warning("request ", request_id, ": output callback failed: ", failure);
    if (!final) {
      scheduler_.finish(&state.seq());
      call_safely(state.callback(),
                  state.make_final(FinishStatus::kError, "output callback failed: " + failure));
      final = true;
    }
  }
  if (final) {
    retired_.push_back(std::move(it->second));
    requests_.erase(it);
  }
}

void EngineCore::expire_deadlines() {
  const Clock::time_point now = Clock::now();
  std::vector<std::string> expired;
  for (const auto& [id, state] : requests_) {
    if (state->deadline().has_value() && *state->deadline() <= now) {
      expired.push_back(id);
    }
  }
  for (const std::string& id : expired) {
    abort(id, FinishStatus::kAbort);
  }
}

void EngineCore::die(const std::string& reason) {
  log_warning("the engine stopped: ", reason);
  dead_ = true;
  pending_updates_.clear();
  in_flight_.reset();
  while (!requests_.empty()) {
    const auto it = requests_.begin();
    const RequestOutput output = it->second->make_final(FinishStatus::kError, reason);
    RequestCallback callback = it->second->callback();
    requests_.erase(it);  // the scheduler's state is not trusted any more: no block frees
    call_safely(callback, output);
  }
}

EngineStats EngineCore::stats() const {
  const SchedulerStats s = scheduler_.stats();
  const BlockManagerStats b = block_manager_.stats();
  return EngineStats{.num_running = s.num_running,
                     .num_waiting = s.num_waiting,
                     .num_blocks_total = b.num_blocks,
                     .num_blocks_used = b.num_used_blocks,
                     .num_preemptions = s.num_preemptions,
                     .prefix_cache_queries = b.prefix_cache_queries,
                     .prefix_cache_hits = b.prefix_cache_hits,
                     .num_prompt_tokens = s.num_prompt_tokens,
                     .num_generation_tokens = s.num_generation_tokens,
                     .num_steps = num_steps_,
                     .num_pipelined_steps = num_pipelined_steps_,
                     .schedule_seconds = schedule_seconds_,
                     .execute_seconds = execute_seconds_,
                     .output_seconds = output_seconds_,
                     .dead = dead_};
}

}  // namespace swiftkv
