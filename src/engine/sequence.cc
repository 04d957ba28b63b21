#include "engine/sequence.h"

#include <utility>

namespace swiftkv {

Sequence::Sequence(std::string request_id, std::vector<int32_t> prompt,
                   const SamplingParams& params, std::vector<int32_t> eos_ids, int32_t logprobs)
    : id(std::move(request_id)),
      token_ids(std::move(prompt)),
      num_prompt_tokens(static_cast<int64_t>(token_ids.size())),
      sampler(params, std::move(eos_ids)),
      num_logprobs(logprobs) {
  sampler.set_prompt(token_ids);
}

}  // namespace swiftkv
