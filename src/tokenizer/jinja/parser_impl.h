// The Parser class behind parser.h, split over parser.cc (statements) and
// parser_expressions.cc (expressions). Internal to the jinja interpreter.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace swiftkv::jinja {

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}
  Body parse_template();

 private:
  const Token& peek(size_t ahead = 0) const {
    const size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  [[noreturn]] void fail(const std::string& message, int line = -1) const {
    throw Error(str_cat("chat template line ", line < 0 ? peek().line : line, ": ", message));
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::kEnd:
        return "end of template";
      case TokenKind::kText:
        return "text";
      case TokenKind::kExprOpen:
        return "'{{'";
      case TokenKind::kExprClose:
        return "'}}'";
      case TokenKind::kStmtOpen:
        return "'{%'";
      case TokenKind::kStmtClose:
        return "'%}'";
      case TokenKind::kString:
        return "string literal";
      default:
        return "'" + t.text + "'";
    }
  }
  bool at_op(std::string_view op, size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::kOperator && peek(ahead).text == op;
  }
  bool at_name(std::string_view name, size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::kName && peek(ahead).text == name;
  }
  void expect_op(std::string_view op) {
    if (!at_op(op)) fail(str_cat("expected '", op, "', got ", describe(peek())));
    next();
  }
  void expect_kind(TokenKind kind, std::string_view what) {
    if (peek().kind != kind) fail(str_cat("expected ", what, ", got ", describe(peek())));
    next();
  }
  std::string expect_name() {
    if (peek().kind != TokenKind::kName) fail(str_cat("expected a name, got ", describe(peek())));
    return next().text;
  }
  void expect_stmt_close() { expect_kind(TokenKind::kStmtClose, "'%}'"); }

  static ExprPtr make(ExprKind kind, int line, std::string name = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    e->name = std::move(name);
    return e;
  }

  // Statements (parser.cc).
  Body parse_body(std::initializer_list<std::string_view> stop, std::string& stopped_at,
                  int block_line);
  void parse_statement(Body& body);

  // Expressions (parser_expressions.cc), lowest precedence first.
  ExprPtr parse_tuple_or_expression(bool allow_conditional);
  ExprPtr parse_expression();
  ExprPtr binary(std::string op, int line, ExprPtr left, ExprPtr right);
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  template <typename Sub>
  ExprPtr parse_left_assoc(std::initializer_list<std::string_view> ops, Sub sub);
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary_with_filters();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr e);
  ExprPtr parse_subscript(ExprPtr target, int line);
  void parse_call_args(Expr& e);
  ExprPtr parse_filters_and_tests(ExprPtr e);

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
};

}  // namespace swiftkv::jinja
