#include "train/response_generation.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/logging.h"
#include "core/thread_pool.h"
#include "engine/generator.h"
#include "model/llama_model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv {

void generate_responses(const LlamaModel& teacher, const Tokenizer& tokenizer,
                        std::vector<RawDocument>& documents,
                        const ResponseGenerationOptions& options) {
  ThreadPool pool(options.threads > 0 ? options.threads : default_num_threads());
  const ops::Context ctx{ops::Backend::kCpu, &pool};
  const Generator generator(teacher, tokenizer, ctx, GeneratorOptions{});
  const nlohmann::json context = {{"bos_token", tokenizer.bos_token()},
                                  {"eos_token", tokenizer.eos_token()}};
  int64_t num_needed = 0;
  for (const RawDocument& doc : documents) {
    num_needed += doc.needs_response() ? 1 : 0;
  }
  log_info("generating ", num_needed, " teacher responses");
  const auto start = std::chrono::steady_clock::now();
  int64_t done = 0;
  int64_t num_tokens = 0;
  for (size_t i = 0; i < documents.size(); ++i) {
    RawDocument& doc = documents[i];
    if (!doc.needs_response()) {
      continue;
    }
    SamplingParams params;
    params.max_tokens = options.max_tokens;
    params.temperature = options.temperature;
    params.top_p = options.top_p;
    params.seed = options.seed + i;
    if (tokenizer.bos_id().has_value()) {
      params.stop_token_ids.push_back(*tokenizer.bos_id());
    }
    std::vector<int32_t> prompt;
    nlohmann::json messages;
    if (doc.kind == RawDocument::Kind::kChat) {
      const std::optional<std::string>& source = tokenizer.chat_template();
      if (!source.has_value() || source->empty()) {
        throw Error("chat data: the tokenizer has no chat_template in tokenizer_config.json");
      }
      messages = nlohmann::json::parse(doc.messages_json);
      prompt = tokenizer.encode(render_chat_template(*source, messages, true, context), false);
    } else {
      prompt = tokenizer.encode(doc.prompt, true);
    }
    const GenerationResult result = generator.generate(prompt, params);
    num_tokens += static_cast<int64_t>(result.output_ids.size());
    if (doc.kind == RawDocument::Kind::kChat) {
      messages.push_back({{"role", "assistant"}, {"content", result.text}});
      doc.messages_json = messages.dump();
      doc.ends_with_user = false;
    } else {
      doc.response = result.text;
      doc.has_response = true;
    }
    if (++done % 50 == 0 || done == num_needed) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      log_info("responses: ", done, "/", num_needed, ", ", num_tokens, " tokens, ",
               static_cast<int64_t>(static_cast<double>(num_tokens) / std::max(seconds, 1e-9)),
               " tokens/s");
    }
  }
}

}  // namespace swiftkv
