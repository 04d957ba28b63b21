// Syntax tree of the chat-template Jinja subset, produced by parser.h, run by evaluator.h.
// Generic nodes (a kind plus operands) keep the evaluator a single switch per node family.
// Every node records its 1-based source line for error messages.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace swiftkv::jinja {

enum class ExprKind {
  kLiteral,      // literal
  kName,         // name
  kList,         // [args...]
  kTuple,        // (args...) — evaluates to a list
  kDict,         // {args[0]: args[1], ...}
  kAttribute,    // args[0].name
  kSubscript,    // args[0][args[1]]
  kSlice,        // args[0][args[1]:args[2]:args[3]] (null = omitted)
  kCall,         // args[0](args[1..], kwargs)
  kFilter,       // args[0] | name(args[1..], kwargs)
  kTest,         // args[0] is [not] name(args[1..])
  kUnary,        // name in {"-", "+", "not"} applied to args[0]
  kBinary,       // args[0] name args[1]; name is an operator, "in", "not in", "and", "or"
  kConditional,  // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  std::string name;
  Value literal;
  bool negated = false;  // kTest: "is not"
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
};
using ExprPtr = std::unique_ptr<Expr>;

enum class StmtKind {
  kText,      // text
  kOutput,    // {{ expr }}
  kIf,        // branches (condition, body); else_body
  kFor,       // {% for targets in expr [if filter] %} body [else else_body]
  kSet,       // {% set targets = expr %} or {% set targets[0].attribute = expr %}
  kSetBlock,  // {% set targets[0] %} body {% endset %}
  kBreak,
  kContinue,
  kMacro,  // {% macro name(params) %} body — params: targets, defaults: defaults
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  StmtKind kind = StmtKind::kText;
  int line = 0;
  std::string text;                  // kText; kMacro: macro name
  ExprPtr expr;                      // kOutput, kFor (iterable), kSet (value)
  ExprPtr filter;                    // kFor: "if" condition
  std::vector<std::string> targets;  // kFor/kSet names; kMacro parameters
  std::string attribute;             // kSet: namespace attribute
  std::vector<ExprPtr> defaults;     // kMacro: default per parameter (null = required)
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf
  Body body;
  Body else_body;
};

}  // namespace swiftkv::jinja
