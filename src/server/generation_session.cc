// Generation requests in flight; see generation_session.h.
#include "server/generation_session.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "core/logging.h"

namespace swiftkv::server {

using Clock = std::chrono::steady_clock;

// Shared by the session (HTTP thread) and its engine callbacks (engine thread).
struct GenerationSession::Channel {
  struct Timing {
    std::optional<SteadyTime> last_token;
  };

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<RequestOutput> pending;
  std::vector<Timing> timing;  // per choice
  std::unordered_map<std::string, size_t> index_of;
  std::shared_ptr<ServerMetrics> metrics;
  SteadyTime arrival;
  int64_t num_prompt_tokens = 0;

  // The engine callback: quick, never throws.
  void on_output(const RequestOutput& output) noexcept {
    try {
      const SteadyTime now = Clock::now();
      {
        const std::lock_guard lock(mutex);
        const auto it = index_of.find(output.request_id);
        if (it == index_of.end()) {
          return;
        }
        Timing& t = timing[it->second];
        if (!output.new_token_ids.empty()) {
          if (!t.last_token) {
            metrics->observe_first_token(std::chrono::duration<double>(now - arrival).count(),
                                         num_prompt_tokens);
          } else {
            metrics->observe_inter_token(
                std::chrono::duration<double>(now - *t.last_token).count());
          }
          t.last_token = now;
          metrics->observe_generation_tokens(static_cast<int64_t>(output.new_token_ids.size()));
        }
        if (output.status != FinishStatus::kRunning) {
          metrics->observe_finished(finish_reason_name(output.status),
                                    std::chrono::duration<double>(now - arrival).count(),
                                    num_prompt_tokens, output.num_output_tokens);
        }
        pending.push_back(output);
      }
      cv.notify_one();
    } catch (const std::exception& e) {
      log_warning("dropping an output delta of ", output.request_id, ": ", e.what());
    }
  }
};

const char* finish_reason_name(FinishStatus status) {
  switch (status) {
    case FinishStatus::kStop:
      return "stop";
    case FinishStatus::kLength:
      return "length";
    case FinishStatus::kAbort:
      return "abort";
    case FinishStatus::kError:
      return "error";
    case FinishStatus::kRunning:
      break;
  }
  return "running";
}

GenerationSession::GenerationSession(ServerContext& context, const ModelBinding& model,
                                     std::string id, std::vector<int32_t> prompt_ids,
                                     GenerationOptions options, SteadyTime arrival)
    : context_(context),
      model_(model),
      id_(std::move(id)),
      prompt_ids_(std::move(prompt_ids)),
      options_(std::move(options)),
      arrival_(arrival),
      created_(std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count()),
      channel_(std::make_shared<Channel>()) {
  const auto timeout = context_.options().request_timeout;
  if (timeout.count() > 0) {
    deadline_ = arrival_ + timeout;
  }
  choices_.resize(static_cast<size_t>(options_.n));
  channel_->timing.resize(choices_.size());
  channel_->metrics = context_.shared_metrics();
  channel_->arrival = arrival_;
  channel_->num_prompt_tokens = static_cast<int64_t>(prompt_ids_.size());
  for (size_t i = 0; i < choices_.size(); ++i) {
    choices_[i].request_id = str_cat(id_, "-", i);
    channel_->index_of[choices_[i].request_id] = i;
  }
  context_.begin_generation();
}

GenerationSession::~GenerationSession() {
  abort_unfinished();
  context_.end_generation();
}

void GenerationSession::submit() {
  for (size_t i = 0; i < choices_.size(); ++i) {
    Request request;
    request.id = choices_[i].request_id;
    request.prompt_ids = prompt_ids_;
    request.sampling = options_.sampling;
    if (options_.sampling.seed) {
      request.sampling.seed = *options_.sampling.seed + i;
    }
    request.logprobs = options_.logprobs;
    request.deadline = deadline_;
    std::shared_ptr<Channel> channel = channel_;
    try {
      model_.engine->add_request(std::move(request), [channel](const RequestOutput& output) {
        channel->on_output(output);
      });
    } catch (const QueueFullError& e) {
      abort_unfinished();
      throw ApiError(
          429, "rate_limit_error",
          str_cat("The server is busy: the request queue is full (", e.what(), "). Retry later."),
          {}, "queue_full");
    } catch (const EngineUnavailableError& e) {
      abort_unfinished();
      throw unavailable(
          e.what(), context_.state() == ServerState::kReady ? "engine_dead" : "server_draining");
    } catch (const Error& e) {
      abort_unfinished();
      if (context_.state() != ServerState::kReady) {
        throw unavailable("the server is shutting down", "server_draining");
      }
      throw invalid_request(e.what());
    }
    ++num_submitted_;
  }
}

std::vector<RequestOutput> GenerationSession::wait(std::chrono::milliseconds timeout) {
  std::vector<RequestOutput> out;
  std::unique_lock lock(channel_->mutex);
  channel_->cv.wait_for(lock, timeout, [&] { return !channel_->pending.empty(); });
  out.swap(channel_->pending);
  return out;
}

ChoiceDelta GenerationSession::apply(const RequestOutput& output) {
  const auto it = channel_->index_of.find(output.request_id);  // immutable after construction
  SWIFTKV_CHECK(it != channel_->index_of.end(), "unknown request id ", output.request_id);
  ChoiceState& choice = choices_[it->second];
  ChoiceDelta delta;
  delta.index = it->second;
  if (choice.status != FinishStatus::kRunning) {
    return delta;  // nothing after the final delta
  }
  delta.text_offset = choice.text.size();
  delta.text = output.new_text;
  delta.logprobs = output.new_logprobs;
  choice.text += output.new_text;
  choice.token_ids.insert(choice.token_ids.end(), output.new_token_ids.begin(),
                          output.new_token_ids.end());
  choice.logprobs.insert(choice.logprobs.end(), output.new_logprobs.begin(),
                         output.new_logprobs.end());
  choice.num_output_tokens =
      std::max(output.num_output_tokens, static_cast<int64_t>(choice.token_ids.size()));
  choice.num_cached_prompt_tokens =
      std::max(choice.num_cached_prompt_tokens, output.num_cached_prompt_tokens);
  if (output.status != FinishStatus::kRunning) {
    choice.status = output.status;
    choice.error = output.error;
    delta.finish = output.status;
    ++num_finished_;
  }
  return delta;
}

void GenerationSession::abort_unfinished() {
  for (size_t i = 0; i < num_submitted_; ++i) {
    if (choices_[i].status == FinishStatus::kRunning) {
      try {
        model_.engine->abort(choices_[i].request_id);
      } catch (const std::exception& e) {
        log_warning("abort of ", choices_[i].request_id, " failed: ", e.what());
      }
    }
  }
}

bool GenerationSession::past_deadline(std::chrono::milliseconds grace) const {
  return deadline_ && Clock::now() > *deadline_ + grace;
}

std::optional<ApiError> GenerationSession::failure() const {
  for (const ChoiceState& choice : choices_) {
    if (choice.status == FinishStatus::kError) {
      return ApiError(500, "internal_error", str_cat("generation failed: ", choice.error), {},
                      "engine_error");
    }
  }
  for (const ChoiceState& choice : choices_) {
    if (choice.status != FinishStatus::kAbort) {
      continue;
    }
    if (deadline_ && Clock::now() >= *deadline_) {
      const auto ms = context_.options().request_timeout.count();
      return ApiError(408, "timeout_error",
                      str_cat("the request timed out after ", static_cast<double>(ms) / 1000.0,
                              " s (--request-timeout)"),
                      {}, "request_timeout");
    }
    if (context_.state() != ServerState::kReady) {
      return unavailable("the server shut down before the request finished", "server_draining");
    }
  }
  return std::nullopt;
}

nlohmann::json GenerationSession::envelope(const char* object) const {
  return {{"id", id_}, {"object", object}, {"created", created_}, {"model", context_.model_name()}};
}

nlohmann::json GenerationSession::usage() const {
  int64_t completion = 0;
  int64_t cached = choices_.empty() ? 0 : choices_.front().num_cached_prompt_tokens;
  for (const ChoiceState& choice : choices_) {
    completion += choice.num_output_tokens;
    cached = std::min(cached, choice.num_cached_prompt_tokens);
  }
  const auto prompt = static_cast<int64_t>(prompt_ids_.size());
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

}  // namespace swiftkv::server
