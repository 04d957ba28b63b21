// One OpenAI generation request in flight: its `n` engine requests (ids "<id>-<i>", seeds
// seed + i), the channel their output deltas arrive on, and the state of every choice.
//
// Threads: the engine thread only runs the callbacks, which append the delta to the channel
// and record the request metrics (TTFT, inter-token latency, finish) at arrival time; the
// HTTP thread owns everything else (wait(), apply(), the choice state). The channel is shared
// with the callbacks, so a session may be destroyed while its requests still run: the
// destructor aborts unfinished requests and late deltas are dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/request.h"
#include "server/api_error.h"
#include "server/sampling_request.h"
#include "server/server_context.h"

namespace swiftkv::server {

struct ChoiceState {
  std::string request_id;
  std::string text;  // all text so far
  std::vector<int32_t> token_ids;
  std::vector<TokenLogprobs> logprobs;
  FinishStatus status = FinishStatus::kRunning;
  std::string error;  // when status == kError
  int64_t num_output_tokens = 0;
  int64_t num_cached_prompt_tokens = 0;
  bool streamed = false;  // a chunk of this choice has been sent
};

// What one engine delta adds to one choice.
struct ChoiceDelta {
  size_t index = 0;
  std::string text;
  std::vector<TokenLogprobs> logprobs;
  size_t text_offset = 0;  // length of the choice's text before this delta
  std::optional<FinishStatus> finish;
};

class GenerationSession {
 public:
  GenerationSession(ServerContext& context, const ModelBinding& model, std::string id,
                    std::vector<int32_t> prompt_ids, GenerationOptions options, SteadyTime arrival);
  ~GenerationSession();
  GenerationSession(const GenerationSession&) = delete;
  GenerationSession& operator=(const GenerationSession&) = delete;

  // Submits the n engine requests. On failure aborts the ones already submitted and throws
  // ApiError: 429 queue full, 400 rejected by the engine, 503 shutting down.
  void submit();

  // Deltas received since the last call, waiting up to `timeout` for the first one.
  std::vector<RequestOutput> wait(std::chrono::milliseconds timeout);
  // Applies a delta to its choice.
  ChoiceDelta apply(const RequestOutput& output);
  bool finished() const { return num_finished_ == choices_.size(); }
  // Aborts every unfinished choice (client gone, error elsewhere, timeout backstop).
  void abort_unfinished();
  // Past the request deadline (plus a grace period for the engine to end it itself).
  bool past_deadline(std::chrono::milliseconds grace) const;

  // After finished(): the error to report instead of a normal response, if any: 500 when the
  // engine failed, 408 when the deadline passed, 503 when a shutdown aborted it.
  std::optional<ApiError> failure() const;

  // {"id", "object", "created", "model"}
  nlohmann::json envelope(const char* object) const;
  // {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details"}
  nlohmann::json usage() const;

  const std::string& id() const { return id_; }
  const GenerationOptions& options() const { return options_; }
  const std::vector<int32_t>& prompt_ids() const { return prompt_ids_; }
  const std::vector<ChoiceState>& choices() const { return choices_; }
  std::vector<ChoiceState>& choices() { return choices_; }
  const Tokenizer& tokenizer() const { return *model_.tokenizer; }
  ServerContext& context() { return context_; }

 private:
  struct Channel;

  ServerContext& context_;
  ModelBinding model_;
  std::string id_;
  std::vector<int32_t> prompt_ids_;
  GenerationOptions options_;
  SteadyTime arrival_;
  std::optional<SteadyTime> deadline_;
  int64_t created_;  // unix seconds
  std::vector<ChoiceState> choices_;
  size_t num_submitted_ = 0;
  size_t num_finished_ = 0;
  std::shared_ptr<Channel> channel_;
};

// "stop", "length", "abort" or "error".
const char* finish_reason_name(FinishStatus status);

}  // namespace swiftkv::server
