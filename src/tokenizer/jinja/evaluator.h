// Evaluator of the chat-template Jinja subset: runs a syntax tree (ast.h) against variables and
// returns the rendered text.
//
// Scoping follows Jinja: the template's top level is one scope, a for loop (and a macro call)
// opens a scope that its assignments do not leak out of (hence namespace()), if-blocks open
// none. Undefined values follow Jinja's default Undefined: they print as "", are falsy and
// iterate as empty, but getting an attribute or item of one is an error. Every error is an Error
// "chat template line N: ..."; raise_exception(msg) gives "chat template line N: raised: msg".
// Single-threaded: one evaluation per call.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace swiftkv::jinja {

// Variable scopes, innermost last.
class Scopes {
 public:
  explicit Scopes(std::unordered_map<std::string, Value> globals);
  // The innermost binding of `name`, or Undefined.
  Value lookup(const std::string& name) const;
  // Binds `name` in the innermost scope.
  void set(const std::string& name, Value value);
  void push() { frames_.emplace_back(); }
  void pop() { frames_.pop_back(); }

 private:
  std::vector<std::unordered_map<std::string, Value>> frames_;
};

// Renders `body` with `scopes` (globals and template variables). Throws Error.
std::string evaluate(const Body& body, Scopes& scopes);

}  // namespace swiftkv::jinja
