// Chat-template parser: expressions, with Jinja's precedence; see parser.h.
#include "tokenizer/jinja/parser_impl.h"

namespace swiftkv::jinja {

// An expression, or a bare tuple "a, b" (for-loop iterables and set values).
ExprPtr Parser::parse_tuple_or_expression(bool allow_conditional) {
  const int line = peek().line;
  ExprPtr first = allow_conditional ? parse_expression() : parse_or();
  if (!at_op(",")) return first;
  ExprPtr tuple = make(ExprKind::kTuple, line);
  tuple->args.push_back(std::move(first));
  while (at_op(",")) {
    next();
    tuple->args.push_back(allow_conditional ? parse_expression() : parse_or());
  }
  return tuple;
}

ExprPtr Parser::parse_expression() {
  ExprPtr e = parse_or();
  while (at_name("if")) {
    const int line = next().line;
    ExprPtr c = make(ExprKind::kConditional, line);
    c->args.push_back(std::move(e));
    c->args.push_back(parse_or());
    if (at_name("else")) {
      next();
      c->args.push_back(parse_expression());
    } else {
      c->args.push_back(nullptr);
    }
    e = std::move(c);
  }
  return e;
}

ExprPtr Parser::binary(std::string op, int line, ExprPtr left, ExprPtr right) {
  ExprPtr e = make(ExprKind::kBinary, line, std::move(op));
  e->args.push_back(std::move(left));
  e->args.push_back(std::move(right));
  return e;
}

ExprPtr Parser::parse_or() {
  ExprPtr e = parse_and();
  while (at_name("or")) {
    const int line = next().line;
    e = binary("or", line, std::move(e), parse_and());
  }
  return e;
}

ExprPtr Parser::parse_and() {
  ExprPtr e = parse_not();
  while (at_name("and")) {
    const int line = next().line;
    e = binary("and", line, std::move(e), parse_not());
  }
  return e;
}

ExprPtr Parser::parse_not() {
  if (at_name("not")) {
    const int line = next().line;
    ExprPtr e = make(ExprKind::kUnary, line, "not");
    e->args.push_back(parse_not());
    return e;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  ExprPtr e = parse_math1();
  while (true) {
    const Token& t = peek();
    const int line = t.line;
    if (t.kind == TokenKind::kOperator && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                           t.text == ">" || t.text == "<=" || t.text == ">=")) {
      const std::string op = next().text;
      e = binary(op, line, std::move(e), parse_math1());
    } else if (at_name("in")) {
      next();
      e = binary("in", line, std::move(e), parse_math1());
    } else if (at_name("not") && at_name("in", 1)) {
      next();
      next();
      e = binary("not in", line, std::move(e), parse_math1());
    } else {
      return e;
    }
  }
}

template <typename Sub>
ExprPtr Parser::parse_left_assoc(std::initializer_list<std::string_view> ops, Sub sub) {
  ExprPtr e = (this->*sub)();
  while (true) {
    bool matched = false;
    for (const std::string_view op : ops) {
      if (at_op(op)) {
        const int line = peek().line;
        const std::string text = next().text;
        e = binary(text, line, std::move(e), (this->*sub)());
        matched = true;
        break;
      }
    }
    if (!matched) return e;
  }
}

ExprPtr Parser::parse_math1() { return parse_left_assoc({"+", "-"}, &Parser::parse_concat); }
ExprPtr Parser::parse_concat() { return parse_left_assoc({"~"}, &Parser::parse_math2); }
ExprPtr Parser::parse_math2() {
  return parse_left_assoc({"*", "/", "//", "%"}, &Parser::parse_pow);
}
ExprPtr Parser::parse_pow() { return parse_left_assoc({"**"}, &Parser::parse_unary_with_filters); }
ExprPtr Parser::parse_unary_with_filters() { return parse_unary(true); }

ExprPtr Parser::parse_unary(bool with_filter) {
  ExprPtr e;
  if (at_op("-") || at_op("+")) {
    const Token& t = next();
    e = make(ExprKind::kUnary, t.line, t.text);
    e->args.push_back(parse_unary(false));
  } else {
    e = parse_primary();
  }
  e = parse_postfix(std::move(e));
  if (with_filter) e = parse_filters_and_tests(std::move(e));
  return e;
}

ExprPtr Parser::parse_primary() {
  const Token& t = peek();
  const int line = t.line;
  switch (t.kind) {
    case TokenKind::kName: {
      next();
      ExprPtr e = make(ExprKind::kLiteral, line);
      if (t.text == "true" || t.text == "True") {
        e->literal = Value(true);
      } else if (t.text == "false" || t.text == "False") {
        e->literal = Value(false);
      } else if (t.text == "none" || t.text == "None") {
        e->literal = Value::none();
      } else {
        e = make(ExprKind::kName, line, t.text);
      }
      return e;
    }
    case TokenKind::kString: {
      std::string s;
      while (peek().kind == TokenKind::kString) s += next().text;
      ExprPtr e = make(ExprKind::kLiteral, line);
      e->literal = Value(std::move(s));
      return e;
    }
    case TokenKind::kInt: {
      ExprPtr e = make(ExprKind::kLiteral, line);
      e->literal = Value(next().int_value);
      return e;
    }
    case TokenKind::kFloat: {
      ExprPtr e = make(ExprKind::kLiteral, line);
      e->literal = Value(next().float_value);
      return e;
    }
    case TokenKind::kOperator:
      if (t.text == "(") {
        next();
        if (at_op(")")) {
          next();
          return make(ExprKind::kTuple, line);
        }
        ExprPtr first = parse_expression();
        if (!at_op(",")) {
          expect_op(")");
          return first;
        }
        ExprPtr tuple = make(ExprKind::kTuple, line);
        tuple->args.push_back(std::move(first));
        while (at_op(",")) {
          next();
          if (at_op(")")) break;
          tuple->args.push_back(parse_expression());
        }
        expect_op(")");
        return tuple;
      }
      if (t.text == "[") {
        next();
        ExprPtr list = make(ExprKind::kList, line);
        while (!at_op("]")) {
          list->args.push_back(parse_expression());
          if (!at_op(",")) break;
          next();
        }
        expect_op("]");
        return list;
      }
      if (t.text == "{") {
        next();
        ExprPtr dict = make(ExprKind::kDict, line);
        while (!at_op("}")) {
          dict->args.push_back(parse_expression());
          expect_op(":");
          dict->args.push_back(parse_expression());
          if (!at_op(",")) break;
          next();
        }
        expect_op("}");
        return dict;
      }
      break;
    default:
      break;
  }
  fail(str_cat("unexpected ", describe(t)));
}

ExprPtr Parser::parse_postfix(ExprPtr e) {
  while (true) {
    const int line = peek().line;
    if (at_op(".")) {
      next();
      ExprPtr a = make(ExprKind::kAttribute, line, expect_name());
      a->args.push_back(std::move(e));
      e = std::move(a);
    } else if (at_op("[")) {
      next();
      e = parse_subscript(std::move(e), line);
    } else if (at_op("(")) {
      ExprPtr call = make(ExprKind::kCall, line);
      call->args.push_back(std::move(e));
      parse_call_args(*call);
      e = std::move(call);
    } else {
      return e;
    }
  }
}

ExprPtr Parser::parse_subscript(ExprPtr target, int line) {
  ExprPtr parts[3];
  bool is_slice = false;
  if (!at_op(":")) parts[0] = parse_expression();
  for (int i = 1; i < 3 && at_op(":"); ++i) {
    is_slice = true;
    next();
    if (!at_op(":") && !at_op("]")) parts[i] = parse_expression();
  }
  expect_op("]");
  ExprPtr e = make(is_slice ? ExprKind::kSlice : ExprKind::kSubscript, line);
  e->args.push_back(std::move(target));
  e->args.push_back(std::move(parts[0]));
  if (is_slice) {
    e->args.push_back(std::move(parts[1]));
    e->args.push_back(std::move(parts[2]));
  }
  return e;
}

// "(" [arg {"," arg}] [","] ")" into e.args (after the existing ones) and e.kwargs.
void Parser::parse_call_args(Expr& e) {
  expect_op("(");
  while (!at_op(")")) {
    if (peek().kind == TokenKind::kName && at_op("=", 1)) {
      std::string key = next().text;
      next();
      e.kwargs.emplace_back(std::move(key), parse_expression());
    } else {
      if (!e.kwargs.empty()) fail("positional argument after keyword argument");
      e.args.push_back(parse_expression());
    }
    if (!at_op(",")) break;
    next();
  }
  expect_op(")");
}

ExprPtr Parser::parse_filters_and_tests(ExprPtr e) {
  while (true) {
    const int line = peek().line;
    if (at_op("|")) {
      next();
      ExprPtr f = make(ExprKind::kFilter, line, expect_name());
      f->args.push_back(std::move(e));
      if (at_op("(")) parse_call_args(*f);
      e = std::move(f);
    } else if (at_name("is")) {
      next();
      ExprPtr t = make(ExprKind::kTest, line);
      if (at_name("not")) {
        next();
        t->negated = true;
      }
      t->name = expect_name();
      t->args.push_back(std::move(e));
      const Token& a = peek();
      if (at_op("(")) {
        parse_call_args(*t);
      } else if ((a.kind == TokenKind::kName || a.kind == TokenKind::kString ||
                  a.kind == TokenKind::kInt || a.kind == TokenKind::kFloat || at_op("[") ||
                  at_op("{")) &&
                 !at_name("else") && !at_name("or") && !at_name("and")) {
        if (at_name("is")) fail("cannot chain multiple tests with 'is'");
        t->args.push_back(parse_postfix(parse_primary()));
      }
      e = std::move(t);
    } else if (at_op("(")) {
      ExprPtr call = make(ExprKind::kCall, line);
      call->args.push_back(std::move(e));
      parse_call_args(*call);
      e = std::move(call);
    } else {
      return e;
    }
  }
}

}  // namespace swiftkv::jinja
