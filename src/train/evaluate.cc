#include "train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/generator.h"
#include "tokenizer/tokenizer.h"
#include "train/dataset.h"

namespace swiftkv {
namespace {

// log-softmax of one row of logits, in double.
std::vector<double> log_softmax(const float* logits, int64_t n) {
  const double max = *std::max_element(logits, logits + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum += std::exp(static_cast<double>(logits[i]) - max);
  }
  const double log_sum = max + std::log(sum);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    out[i] = static_cast<double>(logits[i]) - log_sum;
  }
  return out;
}

std::vector<int32_t> greedy(const Generator& generator, std::span<const int32_t> prompt,
                            int64_t num_tokens) {
  SamplingParams params;
  params.temperature = 0.0F;
  params.max_tokens = static_cast<int32_t>(num_tokens);
  params.ignore_eos = true;
  return generator.generate(prompt, params).output_ids;
}

}  // namespace

nlohmann::json EvalResult::to_json() const {
  nlohmann::json json = {
      {"num_documents", num_documents}, {"num_tokens", num_tokens}, {"perplexity", perplexity}};
  if (has_teacher) {
    json["kl"] = kl;
    json["top1_agreement"] = top1_agreement;
    json["greedy_token_match"] = greedy_token_match;
    json["greedy_exact_match"] = greedy_exact_match;
  }
  return json;
}

EvalResult evaluate_model(const LlamaModel& model, const LlamaModel* teacher,
                          const Tokenizer& tokenizer, const ops::Context& ctx,
                          const EvalOptions& options) {
  std::vector<RawDocument> raw = read_documents(options.data);
  if (options.max_documents > 0 && static_cast<int64_t>(raw.size()) > options.max_documents) {
    raw.resize(static_cast<size_t>(options.max_documents));
  }
  const int64_t max_length =
      options.max_length > 0 ? options.max_length : model.config().max_position_embeddings;
  const int64_t vocab = model.config().vocab_size;
  EvalResult result;
  double nll = 0.0, kl = 0.0, agree = 0.0;
  std::vector<TokenizedDocument> docs;
  for (const RawDocument& r : raw) {
    TokenizedDocument doc = tokenize_document(r, tokenizer);
    if (static_cast<int64_t>(doc.tokens.size()) > max_length) {
      doc.tokens.resize(static_cast<size_t>(max_length));
      doc.response.resize(static_cast<size_t>(max_length));
    }
    if (doc.tokens.size() < 2) {
      continue;
    }
    const auto n = static_cast<int64_t>(doc.tokens.size());
    const Tensor logits = compute_prompt_logits(model, ctx, doc.tokens, max_length);
    Tensor teacher_logits;
    if (teacher != nullptr) {
      teacher_logits = compute_prompt_logits(*teacher, ctx, doc.tokens, max_length);
    }
    for (int64_t t = 0; t + 1 < n; ++t) {
      if (!doc.response[t + 1]) {
        continue;
      }
      const float* row = logits.data<float>() + t * vocab;
      const std::vector<double> logp = log_softmax(row, vocab);
      nll -= logp[doc.tokens[t + 1]];
      if (teacher != nullptr) {
        const float* trow = teacher_logits.data<float>() + t * vocab;
        const std::vector<double> tlogp = log_softmax(trow, vocab);
        for (int64_t v = 0; v < vocab; ++v) {
          kl += std::exp(tlogp[v]) * (tlogp[v] - logp[v]);
        }
        agree += (std::max_element(row, row + vocab) - row) ==
                         (std::max_element(trow, trow + vocab) - trow)
                     ? 1.0
                     : 0.0;
      }
      ++result.num_tokens;
    }
    ++result.num_documents;
    docs.push_back(std::move(doc));
  }
  const double count = static_cast<double>(std::max<int64_t>(result.num_tokens, 1));
  result.perplexity = std::exp(nll / count);
  if (teacher == nullptr) {
    return result;
  }
  result.has_teacher = true;
  result.kl = kl / count;
  result.top1_agreement = agree / count;
  const Generator student_gen(model, tokenizer, ctx, GeneratorOptions{});
  const Generator teacher_gen(*teacher, tokenizer, ctx, GeneratorOptions{});
  int64_t num = 0;
  double token_match = 0.0, exact = 0.0;
  for (const TokenizedDocument& doc : docs) {
    if (num >= options.num_greedy) {
      break;
    }
    const auto prompt_len =
        std::min<int64_t>(options.prompt_tokens, static_cast<int64_t>(doc.tokens.size()));
    const std::span<const int32_t> prompt(doc.tokens.data(), static_cast<size_t>(prompt_len));
    const std::vector<int32_t> a = greedy(student_gen, prompt, options.greedy_tokens);
    const std::vector<int32_t> b = greedy(teacher_gen, prompt, options.greedy_tokens);
    const size_t len = std::min(a.size(), b.size());
    size_t same = 0;
    for (size_t i = 0; i < len; ++i) {
      same += a[i] == b[i] ? 1 : 0;
    }
    token_match += static_cast<double>(same) / static_cast<double>(std::max<size_t>(len, 1));
    exact += a == b ? 1.0 : 0.0;
    ++num;
  }
  result.greedy_token_match = token_match / static_cast<double>(std::max<int64_t>(num, 1));
  result.greedy_exact_match = exact / static_cast<double>(std::max<int64_t>(num, 1));
  return result;
}

}  // namespace swiftkv
