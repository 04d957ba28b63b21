// Chat-template rendering; see chat_template.h.
#include "tokenizer/chat_template.h"

#include "core/error.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/evaluator.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"

namespace swiftkv {

struct ChatTemplate::Impl {
  jinja::Body body;

  template <typename Json>
  std::string render(const Json& messages, bool add_generation_prompt, const Json& extra) const {
    if (!messages.is_array()) {
      throw Error(str_cat("chat template: messages must be a list, got ", messages.type_name()));
    }
    if (!extra.is_null() && !extra.is_object()) {
      throw Error(
          str_cat("chat template: extra context must be an object, got ", extra.type_name()));
    }
    jinja::Scopes scopes(jinja::builtin_globals());
    if (extra.is_object()) {
      for (const auto& [key, value] : extra.items())
        scopes.set(key, jinja::Value::from_json(value));
    }
    scopes.set("messages", jinja::Value::from_json(messages));
    scopes.set("add_generation_prompt", jinja::Value(add_generation_prompt));
    return jinja::evaluate(body, scopes);
  }
};

ChatTemplate::ChatTemplate(const std::string& source)
    : impl_(std::make_unique<const Impl>(Impl{jinja::parse(jinja::tokenize(source))})) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                 const nlohmann::ordered_json& extra_context) const {
  return impl_->render(messages, add_generation_prompt, extra_context);
}

std::string ChatTemplate::render(const nlohmann::json& messages, bool add_generation_prompt,
                                 const nlohmann::json& extra_context) const {
  return impl_->render(messages, add_generation_prompt, extra_context);
}

std::string render_chat_template(const std::string& source, const nlohmann::json& messages,
                                 bool add_generation_prompt, const nlohmann::json& extra_context) {
  return ChatTemplate(source).render(messages, add_generation_prompt, extra_context);
}

}  // namespace swiftkv
