#include "engine/generator.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/error.h"
#include "engine/sampler.h"
#include "engine/single_sequence_cache.h"
#include "engine/stop_checker.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::span<float> row(const Tensor& logits, int64_t r) {
  const int64_t vocab = logits.dim(1);
  return {logits.data<float>() + r * vocab, static_cast<size_t>(vocab)};
}

}  // namespace

std::string_view finish_reason_name(FinishReason reason) {
  return reason == FinishReason::kStop ? "stop" : "length";
}

Generator::Generator(const LlamaModel& model, const Tokenizer& tokenizer, ops::Context ctx,
                     GeneratorOptions options)
    : model_(model),
      tokenizer_(tokenizer),
      ctx_(ctx),
      options_(options),
      max_model_len_(options.max_model_len > 0 ? options.max_model_len
                                               : model.config().max_position_embeddings) {
  SWIFTKV_CHECK(options_.prefill_chunk_size > 0,
                "prefill_chunk_size=", options_.prefill_chunk_size);
}

GenerationResult Generator::generate(std::span<const int32_t> prompt, const SamplingParams& params,
                                     const std::function<void(std::string_view)>& on_text) const {
  const int64_t vocab_size = model_.config().vocab_size;
  params.validate(vocab_size);
  if (prompt.empty()) {
    throw Error("the prompt is empty (no tokens, not even BOS)");
  }
  const auto num_prompt = static_cast<int64_t>(prompt.size());
  if (num_prompt >= max_model_len_) {
    throw Error(str_cat("the prompt has ", num_prompt, " tokens; the context holds ",
                        max_model_len_, " (prompt plus at least one generated token)"));
  }
  for (const int32_t token : prompt) {
    if (token < 0 || token >= vocab_size) {
      throw Error(
          str_cat("prompt token ", token, " is outside the vocabulary (size ", vocab_size, ")"));
    }
  }

  std::vector<int32_t> eos_ids;
  for (const int64_t id : model_.config().eos_token_ids) {
    eos_ids.push_back(static_cast<int32_t>(id));
  }
  Sampler sampler(params, eos_ids);
  sampler.set_prompt(prompt);
  StopChecker stop_checker(params.stop);
  IncrementalDetokenizer detokenizer(tokenizer_, /*skip_special_tokens=*/true);
  // Prime with the prompt so the output continues it: no SentencePiece leading-space strip
  // after a real prompt, and a character split across the prompt's end completes correctly.
  for (const int32_t token : prompt) {
    detokenizer.add(token);
  }
  const SingleSequenceCache cache(model_, max_model_len_, options_.block_size);

  GenerationResult result;
  result.num_prompt_tokens = num_prompt;
  const auto emit = [&](std::string_view text) {
    if (!text.empty() && on_text) {
      on_text(text);
    }
  };

  // Prefill in chunks; only the last chunk's last row needs logits.
  const auto prefill_start = Clock::now();
  Tensor logits;
  for (int64_t start = 0; start < num_prompt; start += options_.prefill_chunk_size) {
    const int64_t n = std::min(options_.prefill_chunk_size, num_prompt - start);
    const bool last_chunk = start + n == num_prompt;
    logits = model_.forward(
        ctx_, cache.make_batch(prompt.subspan(start, n), start, last_chunk ? 1 : 0), cache.cache());
  }
  result.prefill_seconds = seconds_since(prefill_start);

  const auto decode_start = Clock::now();
  int64_t length = num_prompt;
  while (true) {
    const int32_t token = sampler.sample(row(logits, 0));
    sampler.accept(token);
    result.output_ids.push_back(token);
    const bool is_eos =
        !params.ignore_eos && std::find(eos_ids.begin(), eos_ids.end(), token) != eos_ids.end();
    const bool is_stop_token = std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(),
                                         token) != params.stop_token_ids.end();
    if (is_eos || is_stop_token) {
      result.finish_reason = FinishReason::kStop;
      break;
    }
    emit(stop_checker.append(detokenizer.add(token)));
    if (stop_checker.stopped()) {
      result.finish_reason = FinishReason::kStop;
      break;
    }
    ++length;
    if (sampler.num_generated() >= params.max_tokens || length >= max_model_len_) {
      result.finish_reason = FinishReason::kLength;
      break;
    }
    const int32_t next[1] = {token};
    logits = model_.forward(ctx_, cache.make_batch(next, length - 1, 1), cache.cache());
  }
  if (!stop_checker.stopped()) {
    emit(stop_checker.append(detokenizer.finish()));
    emit(stop_checker.flush());
  }
  result.decode_seconds = seconds_since(decode_start);
  result.text = stop_checker.text();
  return result;
}

Tensor compute_prompt_logits(const LlamaModel& model, const ops::Context& ctx,
                             std::span<const int32_t> tokens, int64_t chunk_size) {
  SWIFTKV_CHECK(chunk_size > 0, "chunk_size=", chunk_size);
  const auto n = static_cast<int64_t>(tokens.size());
  const int64_t vocab = model.config().vocab_size;
  const SingleSequenceCache cache(model, std::max<int64_t>(n, 1));
  Tensor all = Tensor::empty({n, vocab}, DType::kF32);
  for (int64_t start = 0; start < n; start += chunk_size) {
    const int64_t count = std::min(chunk_size, n - start);
    const Tensor chunk = model.forward(
        ctx, cache.make_batch(tokens.subspan(start, count), start, count), cache.cache());
    std::memcpy(all.data<float>() + start * vocab, chunk.raw(), chunk.nbytes());
  }
  return all;
}

}  // namespace swiftkv
