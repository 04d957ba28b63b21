// Chat prompts; see chat_prompt.h.
#include "server/chat_prompt.h"

#include <string>

#include "server/api_error.h"
#include "server/request_fields.h"

namespace swiftkv::server {
namespace {

using nlohmann::json;

json normalized_messages(const json& body) {
  const json* messages = fields::get_array(body, "messages");
  if (messages == nullptr || messages->empty()) {
    throw invalid_request("'messages' must be a non-empty list", "messages");
  }
  json out = json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& message = (*messages)[i];
    const std::string where = str_cat("messages[", i, "]");
    if (!message.is_object()) {
      throw invalid_request(str_cat("'", where, "' must be an object"), "messages");
    }
    json copy = message;
    const auto role = message.find("role");
    if (role == message.end() || !role->is_string()) {
      throw invalid_request(str_cat("'", where, ".role' must be a string"), "messages");
    }
    const auto content = message.find("content");
    if (content == message.end() || content->is_null()) {
      copy["content"] = "";
    } else if (content->is_array()) {
      std::string text;
      for (const json& part : *content) {
        const auto type = part.is_object() ? part.find("type") : part.end();
        if (type == part.end() || *type != "text" || !part.contains("text") ||
            !part["text"].is_string()) {
          throw invalid_request(
              str_cat("'", where, ".content' parts must be {\"type\": \"text\", \"text\": ...}"),
              "messages");
        }
        if (!text.empty()) {
          text += '\n';
        }
        text += part["text"].get_ref<const std::string&>();
      }
      copy["content"] = text;
    } else if (!content->is_string()) {
      throw invalid_request(str_cat("'", where, ".content' must be a string or a list of parts"),
                            "messages");
    }
    out.push_back(std::move(copy));
  }
  return out;
}

}  // namespace

std::vector<int32_t> chat_prompt_ids(const ServerContext& context, const Tokenizer& tokenizer,
                                     const json& body) {
  const json messages = normalized_messages(body);
  const bool add_generation_prompt = fields::get_bool(body, "add_generation_prompt").value_or(true);
  const bool add_special_tokens = fields::get_bool(body, "add_special_tokens").value_or(false);
  json extra = {{"bos_token", tokenizer.bos_token()}, {"eos_token", tokenizer.eos_token()}};
  if (const json* kwargs = fields::get_object(body, "chat_template_kwargs")) {
    for (const auto& [key, value] : kwargs->items()) {
      extra[key] = value;
    }
  }
  const ChatTemplate* chat_template = context.chat_template();
  if (chat_template == nullptr) {
    throw invalid_request(
        "this model has no chat template (tokenizer_config.json); start the server with "
        "--chat-template, or use /v1/completions",
        "messages");
  }
  std::string text;
  try {
    text = chat_template->render(messages, add_generation_prompt, extra);
  } catch (const Error& e) {
    throw invalid_request(str_cat("applying the chat template failed: ", e.what()), "messages");
  }
  return tokenizer.encode(text, add_special_tokens);
}

}  // namespace swiftkv::server
