// Parser of the chat-template Jinja subset: tokens (lexer.h) -> syntax tree (ast.h).
//
// Statements: if/elif/else, for (tuple targets, "if" filter, else), set (name, tuple,
// namespace attribute, block form), break/continue (loopcontrols), macro, and transformers'
// generation/endgeneration (rendered as plain content). Expressions follow Jinja's grammar and
// precedence: conditional, or, and, not, comparisons/in/not in, + -, ~, * / // %, **, unary
// +/-, then postfix (.attr, [index], [a:b:c], calls), filters and "is [not]" tests. Other tags
// (include, extends, block, raw, call, filter, ...) are rejected with an Error naming the line.
#pragma once

#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace swiftkv::jinja {

// Throws Error "chat template line N: ..." on a syntax error or an unsupported construct.
Body parse(const std::vector<Token>& tokens);

}  // namespace swiftkv::jinja
