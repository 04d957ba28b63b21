// `swiftkv generate`: one prompt in, streamed text out (stdout), speed on stderr.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/runtime_options.h"
#include "core/error.h"
#include "engine/generator.h"
#include "model/loader.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv::cli {
namespace {

struct GenerateOptions {
  std::string model;
  std::string prompt;
  std::string system;
  bool chat = false;
  int64_t max_model_len = 0;
  int64_t prefill_chunk_size = 8192;
  SamplingParams sampling;
  int64_t seed = -1;
  RuntimeOptions runtime;
};

std::vector<int32_t> prompt_tokens(const GenerateOptions& options, const Tokenizer& tokenizer) {
  if (!options.chat) {
    return tokenizer.encode(options.prompt, /*add_special_tokens=*/true);
  }
  const std::optional<std::string>& source = tokenizer.chat_template();
  if (!source.has_value() || source->empty()) {
    throw Error(str_cat("--chat: the model in ", options.model,
                        " has no chat_template in tokenizer_config.json"));
  }
  nlohmann::json messages = nlohmann::json::array();
  if (!options.system.empty()) {
    messages.push_back({{"role", "system"}, {"content", options.system}});
  }
  messages.push_back({{"role", "user"}, {"content", options.prompt}});
  const nlohmann::json context = {{"bos_token", tokenizer.bos_token()},
                                  {"eos_token", tokenizer.eos_token()}};
  const std::string text =
      render_chat_template(*source, messages, /*add_generation_prompt=*/true, context);
  // The template writes BOS itself, as transformers' apply_chat_template assumes.
  return tokenizer.encode(text, /*add_special_tokens=*/false);
}

void run_generate(const GenerateOptions& options) {
  SamplingParams sampling = options.sampling;
  if (options.seed >= 0) {
    sampling.seed = static_cast<uint64_t>(options.seed);
  }
  const Tokenizer tokenizer = Tokenizer::load(options.model);
  LoadOptions load;
  load.mode = parse_swiftkv_mode(options.runtime.swiftkv);
  const auto model = load_model(options.model, load);
  const Runtime runtime = make_runtime(options.runtime);
  const Generator generator(*model, tokenizer, runtime.ctx,
                            GeneratorOptions{.max_model_len = options.max_model_len,
                                             .prefill_chunk_size = options.prefill_chunk_size});
  const std::vector<int32_t> prompt = prompt_tokens(options, tokenizer);
  if (!options.chat) {  // a plain continuation reads best after its prompt
    std::fputs(options.prompt.c_str(), stdout);
  }

  const GenerationResult result = generator.generate(prompt, sampling, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  const auto generated = static_cast<int64_t>(result.output_ids.size());
  const double prompt_rate =
      static_cast<double>(result.num_prompt_tokens) / std::max(result.prefill_seconds, 1e-9);
  const double decode_rate = static_cast<double>(std::max<int64_t>(generated - 1, 0)) /
                             std::max(result.decode_seconds, 1e-9);
  std::fprintf(stderr,
               "prompt: %lld tokens, %.1f tokens/s | generation: %lld tokens, %.1f tokens/s | "
               "finish_reason: %s | threads: %d, swiftkv: %s\n",
               static_cast<long long>(result.num_prompt_tokens), prompt_rate,
               static_cast<long long>(generated), decode_rate,
               std::string(finish_reason_name(result.finish_reason)).c_str(),
               options.runtime.threads, options.runtime.swiftkv.c_str());
}

}  // namespace

void register_generate(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from one prompt");
  cmd->add_option("--model", options->model, "Model directory (Hugging Face format)")->required();
  cmd->add_option("--prompt", options->prompt, "Prompt text (empty: start from BOS)");
  cmd->add_flag("--chat", options->chat, "Wrap the prompt in the model's chat template");
  cmd->add_option("--system", options->system, "System message (with --chat)");
  SamplingParams& s = options->sampling;
  s.max_tokens = 256;
  cmd->add_option("--max-tokens", s.max_tokens, "Tokens to generate at most")
      ->capture_default_str();
  cmd->add_option("--min-tokens", s.min_tokens, "Tokens to generate before EOS is allowed");
  cmd->add_option("--temperature", s.temperature, "Sampling temperature (0 = greedy)")
      ->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "Keep the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", s.top_p, "Nucleus sampling mass (1 = off)");
  cmd->add_option("--min-p", s.min_p, "Drop tokens below min_p x the top probability");
  cmd->add_option("--seed", options->seed, "Random seed (reproducible sampling)");
  cmd->add_option("--repetition-penalty", s.repetition_penalty, "Repetition penalty (1 = off)");
  cmd->add_option("--presence-penalty", s.presence_penalty, "Presence penalty");
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty");
  cmd->add_option("--stop", s.stop, "Stop string (repeatable)");
  cmd->add_option("--stop-token-id", s.stop_token_ids, "Stop token id (repeatable)");
  cmd->add_flag("--ignore-eos", s.ignore_eos, "Keep generating after EOS");
  cmd->add_option("--max-model-len", options->max_model_len,
                  "Context length (default: max_position_embeddings)");
  cmd->add_option("--prefill-chunk-size", options->prefill_chunk_size,
                  "Prompt tokens per forward pass")
      ->check(CLI::PositiveNumber);
  add_runtime_options(*cmd, options->runtime);
  cmd->callback([options] { run_generate(*options); });
}

}  // namespace swiftkv::cli
