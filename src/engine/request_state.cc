#include "engine/request_state.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace swiftkv {

RequestState::RequestState(Request request, RequestCallback on_output, const Tokenizer* tokenizer,
                           std::vector<int32_t> eos_ids)
    : seq_(std::move(request.id), std::move(request.prompt_ids), request.sampling,
           std::move(eos_ids), request.logprobs),
      on_output_(std::move(on_output)),
      deadline_(request.deadline),
      arrival_time_(std::chrono::steady_clock::now()),
      stop_checker_(tokenizer != nullptr ? request.sampling.stop : std::vector<std::string>{}) {
  if (tokenizer != nullptr) {
    detokenizer_.emplace(*tokenizer, /*skip_special_tokens=*/true);
    // Primed with the prompt like the Generator: the output continues the prompt's text.
    for (const int32_t token : seq_.token_ids) {
      detokenizer_->add(token);
    }
  }
}

RequestOutput RequestState::base_output() const {
  RequestOutput out;
  out.request_id = seq_.id;
  out.num_prompt_tokens = seq_.num_prompt_tokens;
  out.num_cached_prompt_tokens = std::max<int64_t>(seq_.num_cached_prompt_tokens, 0);
  out.num_output_tokens = seq_.num_output_tokens();
  out.arrival_time = arrival_time_;
  out.first_token_time = first_token_time_;
  return out;
}

RequestOutput RequestState::make_output(const SequenceUpdate& update) {
  if (update.new_token.has_value() && !first_token_time_.has_value()) {
    first_token_time_ = std::chrono::steady_clock::now();
  }
  RequestOutput out = base_output();
  out.status = update.status;
  out.error = update.error;
  if (update.new_token.has_value()) {
    const int32_t token = *update.new_token;
    out.new_token_ids.push_back(token);
    if (update.logprobs.has_value()) {
      out.new_logprobs.push_back(*update.logprobs);
    }
    if (!update.is_stop_token && detokenizer_.has_value()) {
      out.new_text = stop_checker_.append(detokenizer_->add(token));
    }
  }
  if (stop_checker_.stopped()) {
    out.status = FinishStatus::kStop;
  }
  const bool done = out.status == FinishStatus::kStop || out.status == FinishStatus::kLength;
  if (done && !stop_checker_.stopped() && detokenizer_.has_value()) {
    out.new_text += stop_checker_.append(detokenizer_->finish());
    out.new_text += stop_checker_.flush();
  }
  return out;
}

RequestOutput RequestState::make_final(FinishStatus status, std::string error) const {
  RequestOutput out = base_output();
  out.status = status;
  out.error = std::move(error);
  return out;
}

}  // namespace swiftkv
