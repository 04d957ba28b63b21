// Chat templates: renders a tokenizer_config.json "chat_template" (a Jinja template) for a list
// of messages, the way transformers' apply_chat_template does.
//
// The template language is the subset implemented in jinja/ (lexer.h, parser.h, evaluator.h,
// builtins.h), with transformers' environment: trim_blocks=True, lstrip_blocks=True, loop
// controls, tojson as json.dumps(ensure_ascii=False), raise_exception(msg) and
// strftime_now(fmt) globals. Variables: `messages`, `add_generation_prompt`, and every key of
// `extra_context` (bos_token, eos_token, tools, date_string, ...); names not given are undefined.
// Pass nlohmann::ordered_json to keep the key order of tool schemas in tojson output (plain
// nlohmann::json sorts keys). Errors (syntax, unknown filter, raise_exception, ...) are Error
// "chat template line N: ...". A ChatTemplate is immutable after construction; render() is
// thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace swiftkv {

class ChatTemplate {
 public:
  // Parses `source`; throws Error naming the line of a syntax error or unsupported construct.
  explicit ChatTemplate(const std::string& source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;
  ChatTemplate(const ChatTemplate&) = delete;
  ChatTemplate& operator=(const ChatTemplate&) = delete;

  std::string render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                     const nlohmann::ordered_json& extra_context) const;
  std::string render(const nlohmann::json& messages, bool add_generation_prompt,
                     const nlohmann::json& extra_context) const;

 private:
  struct Impl;
  std::unique_ptr<const Impl> impl_;
};

// Parses and renders in one call. `extra_context` may be null or an object.
std::string render_chat_template(const std::string& source, const nlohmann::json& messages,
                                 bool add_generation_prompt, const nlohmann::json& extra_context);

}  // namespace swiftkv
