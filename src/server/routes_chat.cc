// POST /v1/chat/completions: messages -> assistant message, streamed or not.
//
// The prompt comes from the chat template (chat_prompt.h). A stream's first chunk of each
// choice carries the role together with the first content ({"role": "assistant", "content":
// "..."}); there is no role-only chunk before the first token. `response_format`
// {"type": "json_object"} constrains the output to a JSON object (engine/json_prefix.h; it ends
// only once the object is closed, or at max_tokens); json_schema is refused with 400.
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "server/chat_prompt.h"
#include "server/generation_runner.h"
#include "server/logprobs_json.h"
#include "server/request_fields.h"
#include "server/route_util.h"
#include "server/routes.h"

namespace swiftkv::server {
namespace {

using nlohmann::json;

class ChatFormatter final : public ResponseFormatter {
 public:
  const char* chunk_object() const override { return "chat.completion.chunk"; }

  json chunk(const GenerationSession& session, const ChoiceDelta& delta,
             bool first) const override {
    json message = json::object();
    if (first) {
      message["role"] = "assistant";
    }
    if (first || !delta.text.empty()) {
      message["content"] = delta.text;
    }
    json choice = {{"index", delta.index},
                   {"delta", std::move(message)},
                   {"logprobs", logprobs(session, delta.logprobs)},
                   {"finish_reason", nullptr}};
    if (delta.finish) {
      choice["finish_reason"] = finish_reason_name(*delta.finish);
    }
    json chunk = session.envelope("chat.completion.chunk");
    chunk["choices"] = json::array({std::move(choice)});
    return chunk;
  }

  json response(const GenerationSession& session) const override {
    json choices = json::array();
    const std::vector<ChoiceState>& states = session.choices();
    for (size_t i = 0; i < states.size(); ++i) {
      choices.push_back({{"index", i},
                         {"message", {{"role", "assistant"}, {"content", states[i].text}}},
                         {"logprobs", logprobs(session, states[i].logprobs)},
                         {"finish_reason", finish_reason_name(states[i].status)},
                         {"stop_reason", nullptr}});
    }
    json out = session.envelope("chat.completion");
    out["choices"] = std::move(choices);
    out["usage"] = session.usage();
    return out;
  }

 private:
  static json logprobs(const GenerationSession& session, const std::vector<TokenLogprobs>& tokens) {
    if (session.options().logprobs < 0) {
      return nullptr;
    }
    return chat_logprobs(session.tokenizer(), tokens);
  }
};

}  // namespace

void register_chat_routes(httplib::Server& http, ServerContext& context) {
  http.Post("/v1/chat/completions", [&context](const httplib::Request& req,
                                               httplib::Response& res) {
    run_guarded(res, [&] {
      const SteadyTime arrival = std::chrono::steady_clock::now();
      const ModelBinding& model = context.require_ready();
      const json body = parse_json_body(req);
      context.check_model(fields::get_string(body, "model"));
      GenerationOptions options = parse_generation_options(body, Endpoint::kChat, model.vocab_size);
      std::vector<int32_t> ids = chat_prompt_ids(context, *model.tokenizer, body);
      if (ids.empty()) {
        throw invalid_request("the chat template produced an empty prompt", "messages");
      }
      resolve_max_tokens(options, static_cast<int64_t>(ids.size()), model.max_model_len,
                         Endpoint::kChat);
      auto session =
          std::make_shared<GenerationSession>(context, model, context.make_id("chatcmpl-"),
                                              std::move(ids), std::move(options), arrival);
      session->submit();
      respond_with_generation(req, res, std::move(session), std::make_shared<ChatFormatter>());
    });
  });
}

}  // namespace swiftkv::server
