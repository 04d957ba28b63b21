// POST /v1/completions: prompt (a string or a list of token ids) -> text, streamed or not.
//
// `prompt` may also be a one-element list of either form; batches of prompts are refused
// (400). A string prompt is encoded with `add_special_tokens` (default true: BOS); a token
// list is used as it is. `echo` prepends the prompt text (the string as given, or the decoded
// ids) to the first chunk / the text; with `logprobs`, prompt tokens come first with null
// log-probabilities (the engine does not compute prompt logprobs).
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/api_error.h"
#include "server/generation_runner.h"
#include "server/logprobs_json.h"
#include "server/request_fields.h"
#include "server/route_util.h"
#include "server/routes.h"

namespace swiftkv::server {
namespace {

using nlohmann::json;

struct CompletionPrompt {
  std::vector<int32_t> ids;
  std::string text;  // for echo
};

CompletionPrompt parse_prompt(const json& body, const Tokenizer& tokenizer, int64_t vocab_size) {
  const auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) {
    throw invalid_request("'prompt' is required", "prompt");
  }
  const json* prompt = &*it;
  if (prompt->is_array() && prompt->size() == 1 && !(*prompt)[0].is_number()) {
    prompt = &(*prompt)[0];  // a batch of one
  }
  const bool add_special_tokens = fields::get_bool(body, "add_special_tokens").value_or(true);
  CompletionPrompt out;
  if (prompt->is_string()) {
    out.text = prompt->get<std::string>();
    out.ids = tokenizer.encode(out.text, add_special_tokens);
  } else if (prompt->is_array()) {
    if (!prompt->empty() && !(*prompt)[0].is_number()) {
      throw invalid_request("batched prompts are not supported: send one prompt per request",
                            "prompt");
    }
    out.ids = fields::get_int_list(json{{"prompt", *prompt}}, "prompt").value();
    check_token_ids(out.ids, vocab_size, "prompt");
    out.text = tokenizer.decode(out.ids, /*skip_special_tokens=*/true);
  } else {
    throw invalid_request(
        str_cat("'prompt' must be a string or a list of token ids, got ", prompt->type_name()),
        "prompt");
  }
  if (out.ids.empty()) {
    throw invalid_request("the prompt is empty (no tokens)", "prompt");
  }
  return out;
}

class CompletionFormatter final : public ResponseFormatter {
 public:
  explicit CompletionFormatter(CompletionPrompt echo) : echo_(std::move(echo)) {}

  const char* chunk_object() const override { return "text_completion"; }

  json chunk(const GenerationSession& session, const ChoiceDelta& delta,
             bool first) const override {
    const bool echo = session.options().echo && first;
    json logprobs = nullptr;
    if (session.options().logprobs >= 0) {
      const std::span<const int32_t> prompt =
          echo ? std::span<const int32_t>(echo_.ids) : std::span<const int32_t>();
      const size_t offset = echo ? 0 : delta.text_offset + echo_prefix(session).size();
      logprobs = completion_logprobs(session.tokenizer(), prompt, delta.logprobs, offset);
    }
    json chunk = session.envelope("text_completion");
    chunk["choices"] = json::array({{{"index", delta.index},
                                     {"text", echo ? echo_.text + delta.text : delta.text},
                                     {"logprobs", std::move(logprobs)},
                                     {"finish_reason", finish_json(delta.finish)},
                                     {"stop_reason", nullptr}}});
    return chunk;
  }

  json response(const GenerationSession& session) const override {
    json choices = json::array();
    const std::vector<ChoiceState>& states = session.choices();
    for (size_t i = 0; i < states.size(); ++i) {
      json logprobs = nullptr;
      if (session.options().logprobs >= 0) {
        const std::span<const int32_t> prompt = session.options().echo
                                                    ? std::span<const int32_t>(echo_.ids)
                                                    : std::span<const int32_t>();
        logprobs = completion_logprobs(session.tokenizer(), prompt, states[i].logprobs, 0);
      }
      choices.push_back({{"index", i},
                         {"text", echo_prefix(session) + states[i].text},
                         {"logprobs", std::move(logprobs)},
                         {"finish_reason", finish_reason_name(states[i].status)},
                         {"stop_reason", nullptr}});
    }
    json out = session.envelope("text_completion");
    out["choices"] = std::move(choices);
    out["usage"] = session.usage();
    return out;
  }

 private:
  const std::string& echo_prefix(const GenerationSession& session) const {
    static const std::string kEmpty;
    return session.options().echo ? echo_.text : kEmpty;
  }

  static json finish_json(const std::optional<FinishStatus>& finish) {
    return finish ? json(finish_reason_name(*finish)) : json(nullptr);
  }

  CompletionPrompt echo_;
};

}  // namespace

void register_completion_routes(httplib::Server& http, ServerContext& context) {
  http.Post("/v1/completions", [&context](const httplib::Request& req, httplib::Response& res) {
    run_guarded(res, [&] {
      const SteadyTime arrival = std::chrono::steady_clock::now();
      const ModelBinding& model = context.require_ready();
      const json body = parse_json_body(req);
      context.check_model(fields::get_string(body, "model"));
      CompletionPrompt prompt = parse_prompt(body, *model.tokenizer, model.vocab_size);
      GenerationOptions options =
          parse_generation_options(body, Endpoint::kCompletions, model.vocab_size);
      resolve_max_tokens(options, static_cast<int64_t>(prompt.ids.size()), model.max_model_len,
                         Endpoint::kCompletions);
      std::vector<int32_t> ids = prompt.ids;
      auto session = std::make_shared<GenerationSession>(
          context, model, context.make_id("cmpl-"), std::move(ids), std::move(options), arrival);
      session->submit();
      respond_with_generation(req, res, std::move(session),
                              std::make_shared<CompletionFormatter>(std::move(prompt)));
    });
  });
}

}  // namespace swiftkv::server
