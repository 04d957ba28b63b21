// Lexer of the chat-template Jinja subset: template source -> text and tag tokens.
//
// Whitespace handling is done here, with the settings transformers renders chat templates
// with (jinja2 ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)) and Jinja's
// defaults otherwise: newlines are normalised to "\n" and one trailing newline of the source is
// dropped (keep_trailing_newline=False); "{%-"/"-%}" (and for "{{ }}", "{# #}") strip all
// whitespace on that side; lstrip_blocks removes spaces/tabs between a line start and "{%" or
// "{#" (not after "{%+"); trim_blocks removes the first newline after "%}" or "#}" (not after
// "+%}"). Comments are dropped. Every token carries its 1-based source line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace swiftkv::jinja {

enum class TokenKind {
  kText,
  kExprOpen,   // {{
  kExprClose,  // }}
  kStmtOpen,   // {%
  kStmtClose,  // %}
  kName,
  kString,
  kInt,
  kFloat,
  kOperator,  // + - * / // % ** ~ == != < > <= >= = ( ) [ ] { } , . : |
  kEnd,
};

struct Token {
  TokenKind kind;
  std::string text;  // text, name, operator, or the unescaped string literal
  int line = 0;
  int64_t int_value = 0;
  double float_value = 0;
};

// Throws Error "chat template line N: ..." on unterminated tags, strings or comments and on
// characters that are not part of the language.
std::vector<Token> tokenize(std::string_view source);

}  // namespace swiftkv::jinja
