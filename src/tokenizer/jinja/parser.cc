// Chat-template parser: statements and the entry point; see parser.h.
#include "tokenizer/jinja/parser.h"

#include "tokenizer/jinja/parser_impl.h"

namespace swiftkv::jinja {

Body Parser::parse_template() {
  std::string stop;
  Body body = parse_body({}, stop, 0);
  return body;
}

// Parses statements until "{% <one of stop> ". Consumes "{%" and the stop word, leaving the
// rest of that tag to the caller; `stopped_at` receives the word.
Body Parser::parse_body(std::initializer_list<std::string_view> stop, std::string& stopped_at,
                        int block_line) {
  Body body;
  while (true) {
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::kEnd:
        if (stop.size() != 0) {
          fail(str_cat("missing {% ", *(stop.end() - 1), " %} for the block opened on line ",
                       block_line));
        }
        return body;
      case TokenKind::kText: {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->line = t.line;
        s->text = t.text;
        body.push_back(std::move(s));
        next();
        break;
      }
      case TokenKind::kExprOpen: {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kOutput;
        s->line = next().line;
        s->expr = parse_expression();
        expect_kind(TokenKind::kExprClose, "'}}'");
        body.push_back(std::move(s));
        break;
      }
      case TokenKind::kStmtOpen: {
        const Token& keyword = peek(1);
        if (keyword.kind != TokenKind::kName) fail("expected a tag name after '{%'");
        for (const std::string_view word : stop) {
          if (keyword.text == word) {
            next();
            next();
            stopped_at = keyword.text;
            return body;
          }
        }
        next();
        parse_statement(body);
        break;
      }
      default:
        fail(str_cat("unexpected ", describe(t)));
    }
  }
}

void Parser::parse_statement(Body& body) {
  const Token& keyword = next();
  const int line = keyword.line;
  const std::string& word = keyword.text;
  auto s = std::make_unique<Stmt>();
  s->line = line;
  std::string stop;
  if (word == "if") {
    s->kind = StmtKind::kIf;
    ExprPtr condition = parse_expression();
    expect_stmt_close();
    Body branch = parse_body({"elif", "else", "endif"}, stop, line);
    s->branches.emplace_back(std::move(condition), std::move(branch));
    while (stop == "elif") {
      ExprPtr cond = parse_expression();
      expect_stmt_close();
      Body b = parse_body({"elif", "else", "endif"}, stop, line);
      s->branches.emplace_back(std::move(cond), std::move(b));
    }
    if (stop == "else") {
      expect_stmt_close();
      s->else_body = parse_body({"endif"}, stop, line);
    }
    expect_stmt_close();
  } else if (word == "for") {
    s->kind = StmtKind::kFor;
    s->targets.push_back(expect_name());
    while (at_op(",")) {
      next();
      s->targets.push_back(expect_name());
    }
    if (!at_name("in")) fail(str_cat("expected 'in' in for loop, got ", describe(peek())));
    next();
    s->expr = parse_tuple_or_expression(/*allow_conditional=*/false);
    if (at_name("if")) {
      next();
      s->filter = parse_expression();
    }
    if (at_name("recursive")) fail("recursive for loops are not supported");
    expect_stmt_close();
    s->body = parse_body({"else", "endfor"}, stop, line);
    if (stop == "else") {
      expect_stmt_close();
      s->else_body = parse_body({"endfor"}, stop, line);
    }
    expect_stmt_close();
  } else if (word == "set") {
    s->targets.push_back(expect_name());
    if (at_op(".")) {
      next();
      s->attribute = expect_name();
    }
    while (at_op(",")) {
      next();
      s->targets.push_back(expect_name());
    }
    if (at_op("=")) {
      next();
      s->kind = StmtKind::kSet;
      s->expr = parse_tuple_or_expression(/*allow_conditional=*/true);
      expect_stmt_close();
    } else {
      if (s->targets.size() != 1 || !s->attribute.empty()) fail("invalid block set target");
      s->kind = StmtKind::kSetBlock;
      expect_stmt_close();
      s->body = parse_body({"endset"}, stop, line);
      expect_stmt_close();
    }
  } else if (word == "break" || word == "continue") {
    s->kind = word == "break" ? StmtKind::kBreak : StmtKind::kContinue;
    expect_stmt_close();
  } else if (word == "generation") {  // transformers' assistant-mask marker: plain content
    expect_stmt_close();
    Body inner = parse_body({"endgeneration"}, stop, line);
    expect_stmt_close();
    for (auto& stmt : inner) body.push_back(std::move(stmt));
    return;
  } else if (word == "macro") {
    s->kind = StmtKind::kMacro;
    s->text = expect_name();
    expect_op("(");
    while (!at_op(")")) {
      s->targets.push_back(expect_name());
      if (at_op("=")) {
        next();
        s->defaults.push_back(parse_expression());
      } else {
        s->defaults.push_back(nullptr);
      }
      if (!at_op(",")) break;
      next();
    }
    expect_op(")");
    expect_stmt_close();
    s->body = parse_body({"endmacro"}, stop, line);
    expect_stmt_close();
  } else {
    fail(str_cat("unsupported tag '", word, "'"), line);
  }
  body.push_back(std::move(s));
}

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace swiftkv::jinja
