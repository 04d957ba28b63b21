#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "core/error.h"

namespace swiftkv {
namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

constexpr const char* kNoJsonToken =
    "no token of the vocabulary continues the JSON object (response_format)";

// Softmax of `logits` into probabilities (f64 sum for stability).
std::vector<float> softmax(std::span<const float> logits) {
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  std::vector<float> probs(logits.size());
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    probs[i] = std::isinf(logits[i]) ? 0.0F : std::exp(logits[i] - max_logit);
    sum += probs[i];
  }
  for (float& p : probs) {
    p = static_cast<float>(p / sum);
  }
  return probs;
}

}  // namespace

void SamplingParams::validate(int64_t vocab_size) const {
  if (!(temperature >= 0.0F) || !std::isfinite(temperature)) {
    throw Error(str_cat("temperature must be a finite number >= 0, got ", temperature));
  }
  if (!(top_p > 0.0F && top_p <= 1.0F)) {
    throw Error(str_cat("top_p must be in (0, 1], got ", top_p));
  }
  if (top_k < -1) {
    throw Error(str_cat("top_k must be -1, 0 (off) or positive, got ", top_k));
  }
  if (!(min_p >= 0.0F && min_p <= 1.0F)) {
    throw Error(str_cat("min_p must be in [0, 1], got ", min_p));
  }
  if (!(repetition_penalty > 0.0F) || !std::isfinite(repetition_penalty)) {
    throw Error(str_cat("repetition_penalty must be > 0, got ", repetition_penalty));
  }
  if (!(presence_penalty >= -2.0F && presence_penalty <= 2.0F)) {
    throw Error(str_cat("presence_penalty must be in [-2, 2], got ", presence_penalty));
  }
  if (!(frequency_penalty >= -2.0F && frequency_penalty <= 2.0F)) {
    throw Error(str_cat("frequency_penalty must be in [-2, 2], got ", frequency_penalty));
  }
  if (max_tokens < 1) {
    throw Error(str_cat("max_tokens must be at least 1, got ", max_tokens));
  }
  if (min_tokens < 0 || min_tokens > max_tokens) {
    throw Error(str_cat("min_tokens must be in [0, max_tokens], got ", min_tokens));
  }
  for (const auto& [token, bias] : logit_bias) {
    if (token < 0 || token >= vocab_size) {
      throw Error(str_cat("logit_bias token ", token, " is outside the vocabulary (size ",
                          vocab_size, ")"));
    }
    if (!std::isfinite(bias)) {
      throw Error(str_cat("logit_bias for token ", token, " must be finite"));
    }
  }
  for (const int32_t token : stop_token_ids) {
    if (token < 0 || token >= vocab_size) {
      throw Error(str_cat("stop_token_ids entry ", token, " is outside the vocabulary (size ",
                          vocab_size, ")"));
    }
  }
  for (const std::string& s : stop) {
    if (s.empty()) {
      throw Error("stop strings must not be empty");
    }
  }
}

Sampler::Sampler(SamplingParams params, std::vector<int32_t> eos_ids)
    : params_(std::move(params)), eos_ids_(std::move(eos_ids)) {
  if (params_.seed.has_value()) {
    draw_seed_ = *params_.seed;
  } else {
    std::random_device device;
    draw_seed_ = (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  rng_.seed(draw_seed_);
}

bool Sampler::device_sampleable() const {
  const bool masking = num_generated() < params_.min_tokens &&
                       (!eos_ids_.empty() || !params_.stop_token_ids.empty());
  return params_.logit_bias.empty() && params_.repetition_penalty == 1.0F &&
         params_.presence_penalty == 0.0F && params_.frequency_penalty == 0.0F && !masking &&
         json_texts_ == nullptr;
}

void Sampler::constrain_to_json_object(std::shared_ptr<const TokenTexts> texts) {
  SWIFTKV_CHECK(texts != nullptr && texts->bytes.size() == texts->special.size(),
                "constrain_to_json_object needs a token table");
  json_texts_ = std::move(texts);
  json_ = JsonObjectPrefix();
}

bool Sampler::json_allows(int32_t token) const {
  if (contains_token(eos_ids_, token) || contains_token(params_.stop_token_ids, token)) {
    return json_.complete();
  }
  const TokenTexts& texts = *json_texts_;
  const auto i = static_cast<size_t>(token);
  if (i >= texts.bytes.size() || texts.special[i] || texts.bytes[i].empty()) {
    return false;
  }
  JsonObjectPrefix next = json_;
  return next.feed_all(texts.bytes[i]);
}

void Sampler::mask_non_json(std::span<float> logits) const {
  bool any = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    float& logit = logits[i];
    if (logit == kMasked) {
      continue;
    }
    if (json_allows(static_cast<int32_t>(i))) {
      any = true;
    } else {
      logit = kMasked;
    }
  }
  if (!any) {
    throw Error(kNoJsonToken);
  }
}

int32_t Sampler::json_argmax(std::span<const float> logits) const {
  // The first allowed token in descending logit order (lower id first on ties), as argmax over
  // the masked logits would pick, without checking the whole vocabulary: the model's favourite
  // usually continues the JSON already.
  const int32_t best = argmax(logits);
  if (logits[static_cast<size_t>(best)] != kMasked && json_allows(best)) {
    return best;
  }
  std::vector<std::pair<float, int32_t>> heap;
  heap.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] != kMasked) {
      heap.emplace_back(logits[i], static_cast<int32_t>(i));
    }
  }
  const auto less = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first < b.first || (a.first == b.first && a.second > b.second);
  };
  std::make_heap(heap.begin(), heap.end(), less);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), less);
    const int32_t token = heap.back().second;
    heap.pop_back();
    if (json_allows(token)) {
      return token;
    }
  }
  throw Error(kNoJsonToken);
}

void Sampler::set_prompt(std::span<const int32_t> prompt) {
  prompt_.assign(prompt.begin(), prompt.end());
}

void Sampler::accept(int32_t token) {
  output_.push_back(token);
  ++output_counts_[token];
  if (json_texts_ != nullptr && token >= 0 &&
      static_cast<size_t>(token) < json_texts_->bytes.size() &&
      !json_texts_->special[static_cast<size_t>(token)]) {
    json_.feed_all(json_texts_->bytes[static_cast<size_t>(token)]);  // a forced token may not fit
  }
}

void Sampler::apply_penalties(std::span<float> logits) const {
  const auto vocab = static_cast<int32_t>(logits.size());
  if (params_.repetition_penalty != 1.0F) {
    std::unordered_set<int32_t> seen(prompt_.begin(), prompt_.end());
    seen.insert(output_.begin(), output_.end());
    for (const int32_t token : seen) {
      if (token >= 0 && token < vocab) {
        float& logit = logits[static_cast<size_t>(token)];
        logit =
            logit > 0.0F ? logit / params_.repetition_penalty : logit * params_.repetition_penalty;
      }
    }
  }
  if (params_.presence_penalty != 0.0F || params_.frequency_penalty != 0.0F) {
    for (const auto& [token, n] : output_counts_) {
      if (token >= 0 && token < vocab) {
        logits[static_cast<size_t>(token)] -=
            params_.presence_penalty + params_.frequency_penalty * static_cast<float>(n);
      }
    }
  }
}

int32_t Sampler::sample(std::span<float> logits) {
  SWIFTKV_CHECK(!logits.empty(), "empty logits");
  const auto vocab = static_cast<int32_t>(logits.size());
  for (const auto& [token, bias] : params_.logit_bias) {
    if (token < vocab) {
      logits[static_cast<size_t>(token)] += bias;
    }
  }
  if (num_generated() < params_.min_tokens) {
    for (const int32_t token : eos_ids_) {
      if (token >= 0 && token < vocab) {
        logits[static_cast<size_t>(token)] = kMasked;
      }
    }
    for (const int32_t token : params_.stop_token_ids) {
      logits[static_cast<size_t>(token)] = kMasked;
    }
  }
  apply_penalties(logits);
  if (params_.greedy()) {
    return json_texts_ != nullptr ? json_argmax(logits) : argmax(logits);
  }
  if (json_texts_ != nullptr) {
    mask_non_json(logits);
  }
  for (float& logit : logits) {
    logit /= params_.temperature;
  }
  std::vector<float> probs = softmax(logits);
  if (params_.min_p > 0.0F) {
    const float threshold = params_.min_p * *std::max_element(probs.begin(), probs.end());
    for (float& p : probs) {
      p = p < threshold ? 0.0F : p;
    }
  }
  const bool use_top_k = params_.top_k > 0 && params_.top_k < vocab;
  if (use_top_k || params_.top_p < 1.0F) {
    std::vector<int32_t> order(probs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return probs[static_cast<size_t>(a)] > probs[static_cast<size_t>(b)];
    });
    const size_t keep_k = use_top_k ? static_cast<size_t>(params_.top_k) : order.size();
    // top-p over the distribution renormalised after min-p and top-k (vLLM applies top-k
    // first, then top-p on the remaining mass); always keep at least one token.
    double kept_mass = 0.0;
    for (size_t i = 0; i < keep_k; ++i) {
      kept_mass += probs[static_cast<size_t>(order[i])];
    }
    double cumulative = 0.0;
    for (size_t i = 0; i < order.size(); ++i) {
      float& p = probs[static_cast<size_t>(order[i])];
      const bool beyond_p = i > 0 && cumulative >= params_.top_p * kept_mass;
      cumulative += p;
      if (i >= keep_k || beyond_p) {
        p = 0.0F;
      }
    }
  }
  std::discrete_distribution<int32_t> distribution(probs.begin(), probs.end());
  return distribution(rng_);
}

int32_t argmax(std::span<const float> values) {
  return static_cast<int32_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

}  // namespace swiftkv
