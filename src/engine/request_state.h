// One live request on the engine thread: its Sequence (what the scheduler and the runner see)
// plus its output state, which turns each step's SequenceUpdate into the RequestOutput delta the
// client receives, exactly like the offline Generator: the token is detokenized incrementally
// by a detokenizer primed with the prompt (EOS and stop token ids are not), text goes through the
// StopChecker (a stop string ends the request with kStop and is never shown), and a final
// kStop/kLength delta flushes held-back text. Without a tokenizer (benchmarks) there is no text and
// stop strings are not checked.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "engine/request.h"
#include "engine/sequence.h"
#include "engine/step_data.h"
#include "engine/stop_checker.h"
#include "tokenizer/incremental_detokenizer.h"

namespace swiftkv {

class Tokenizer;

using RequestCallback = std::function<void(const RequestOutput&)>;

class RequestState {
 public:
  RequestState(Request request, RequestCallback on_output, const Tokenizer* tokenizer,
               std::vector<int32_t> eos_ids);
  RequestState(const RequestState&) = delete;
  RequestState& operator=(const RequestState&) = delete;

  Sequence& seq() { return seq_; }
  const std::optional<SteadyTime>& deadline() const { return deadline_; }
  const RequestCallback& callback() const { return on_output_; }

  // The delta for one step's update. Its status is kStop when a stop string appeared (the
  // caller must then finish the sequence), else the update's status.
  RequestOutput make_output(const SequenceUpdate& update);
  // A final delta without new tokens (abort, error).
  RequestOutput make_final(FinishStatus status, std::string error) const;

 private:
  RequestOutput base_output() const;

  Sequence seq_;
  RequestCallback on_output_;
  std::optional<SteadyTime> deadline_;
  SteadyTime arrival_time_;
  std::optional<SteadyTime> first_token_time_;
  std::optional<IncrementalDetokenizer> detokenizer_;
  StopChecker stop_checker_;
};

}  // namespace swiftkv
