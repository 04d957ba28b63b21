#include "engine/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace swiftkv {

TokenLogprobs compute_logprobs(std::span<const float> logits, int32_t token, int32_t num_top) {
  const auto vocab = static_cast<int32_t>(logits.size());
  SWIFTKV_CHECK(token >= 0 && token < vocab, "token ", token, " outside vocab ", vocab);
  SWIFTKV_CHECK(num_top >= 0, "num_top=", num_top);
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (const float logit : logits) {
    sum += std::isinf(logit) ? 0.0 : std::exp(static_cast<double>(logit) - max_logit);
  }
  const double log_normaliser = static_cast<double>(max_logit) + std::log(sum);
  const auto logprob = [&](int32_t id) {
    const float logit = logits[static_cast<size_t>(id)];
    return std::isinf(logit) ? -std::numeric_limits<float>::infinity()
                             : static_cast<float>(static_cast<double>(logit) - log_normaliser);
  };

  TokenLogprobs out{.token = token, .logprob = logprob(token), .top = {}};
  const int32_t k = std::min(num_top, vocab);
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)];
    const float lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  });
  for (int32_t i = 0; i < k; ++i) {
    out.top.push_back(TopLogprob{.token = order[static_cast<size_t>(i)],
                                 .logprob = logprob(order[static_cast<size_t>(i)])});
  }
  return out;
}

}  // namespace swiftkv
