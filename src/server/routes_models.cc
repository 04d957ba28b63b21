// GET /v1/models, POST /tokenize, POST /detokenize (vLLM's shapes), GET /health.
//
// /tokenize takes {prompt, add_special_tokens (default true)} or {messages,
// add_generation_prompt (default true), add_special_tokens (default false),
// chat_template_kwargs} and answers {tokens, count, max_model_len, token_strs (null unless
// return_token_strs)}. /detokenize takes {tokens} and answers {prompt} (special tokens kept).
// /health answers 200 {"status": "ok"} when ready, 503 while loading, draining or when the
// engine died; it and /metrics need no API key.
#include <chrono>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/chat_prompt.h"
#include "server/request_fields.h"
#include "server/route_util.h"
#include "server/routes.h"

namespace swiftkv::server {
namespace {

using nlohmann::json;

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json list_models(const ServerContext& context, const ModelBinding& model) {
  json data = json::array();
  for (const std::string& name : context.options().served_model_names) {
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", unix_seconds()},
                    {"owned_by", "swiftkv"},
                    {"root", context.options().model_root},
                    {"parent", nullptr},
                    {"max_model_len", model.max_model_len},
                    {"permission", json::array()}});
  }
  return {{"object", "list"}, {"data", std::move(data)}};
}

json tokenize(const ServerContext& context, const ModelBinding& model, const json& body) {
  std::vector<int32_t> ids;
  if (body.contains("messages")) {
    ids = chat_prompt_ids(context, *model.tokenizer, body);
  } else {
    const std::optional<std::string> prompt = fields::get_string(body, "prompt");
    if (!prompt) {
      throw invalid_request("'prompt' (a string) or 'messages' is required", "prompt");
    }
    ids = model.tokenizer->encode(*prompt,
                                  fields::get_bool(body, "add_special_tokens").value_or(true));
  }
  json token_strs = nullptr;
  if (fields::get_bool(body, "return_token_strs").value_or(false)) {
    token_strs = json::array();
    for (const int32_t id : ids) {
      token_strs.push_back(model.tokenizer->id_to_token(id));
    }
  }
  return {{"count", ids.size()},
          {"max_model_len", model.max_model_len},
          {"tokens", ids},
          {"token_strs", std::move(token_strs)}};
}

}  // namespace

void register_model_routes(httplib::Server& http, ServerContext& context) {
  http.Get("/v1/models", [&context](const httplib::Request&, httplib::Response& res) {
    run_guarded(res, [&] {
      const ModelBinding& model = context.require_ready();
      send_json(res, 200, list_models(context, model));
    });
  });
  http.Post("/tokenize", [&context](const httplib::Request& req, httplib::Response& res) {
    run_guarded(res, [&] {
      const ModelBinding& model = context.require_ready();
      const json body = parse_json_body(req);
      context.check_model(fields::get_string(body, "model"));
      send_json(res, 200, tokenize(context, model, body));
    });
  });
  http.Post("/detokenize", [&context](const httplib::Request& req, httplib::Response& res) {
    run_guarded(res, [&] {
      const ModelBinding& model = context.require_ready();
      const json body = parse_json_body(req);
      context.check_model(fields::get_string(body, "model"));
      const std::optional<std::vector<int32_t>> ids = fields::get_int_list(body, "tokens");
      if (!ids) {
        throw invalid_request("'tokens' (a list of token ids) is required", "tokens");
      }
      check_token_ids(*ids, model.vocab_size, "tokens");
      send_json(res, 200,
                {{"prompt", model.tokenizer->decode(*ids, /*skip_special_tokens=*/false)}});
    });
  });
  http.Get("/health", [&context](const httplib::Request&, httplib::Response& res) {
    run_guarded(res, [&] {
      context.require_ready();
      send_json(res, 200, {{"status", "ok"}});
    });
  });
}

}  // namespace swiftkv::server
