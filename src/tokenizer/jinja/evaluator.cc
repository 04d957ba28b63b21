// Chat-template evaluator; see evaluator.h.
#include "tokenizer/jinja/evaluator.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "tokenizer/jinja/builtin_support.h"
#include "tokenizer/jinja/builtins.h"

namespace swiftkv::jinja {
namespace {

// An Error that already names its template line (so enclosing nodes do not prefix it again).
class LocatedError : public Error {
 public:
  using Error::Error;
};

[[noreturn]] void fail(int line, const std::string& message) {
  throw LocatedError(str_cat("chat template line ", line, ": ", message));
}

// Python slice indices over a sequence of `size` items.
std::vector<size_t> slice_indices(int64_t size, const Value& start, const Value& stop,
                                  const Value& step_value) {
  const auto get = [](const Value& v, int64_t fallback) {
    if (v.is_undefined() || v.is_none()) return fallback;
    if (!v.is_int()) throw Error(str_cat("slice indices must be integers, got ", v.type_name()));
    return v.as_int();
  };
  const int64_t step = get(step_value, 1);
  if (step == 0) throw Error("slice step cannot be zero");
  const auto clamp = [&](int64_t i) {
    if (i < 0) i += size;
    if (step > 0) return std::clamp<int64_t>(i, 0, size);
    return std::clamp<int64_t>(i, -1, size - 1);
  };
  int64_t begin =
      start.is_undefined() || start.is_none() ? (step > 0 ? 0 : size - 1) : clamp(get(start, 0));
  int64_t end =
      stop.is_undefined() || stop.is_none() ? (step > 0 ? size : -1) : clamp(get(stop, 0));
  std::vector<size_t> out;
  for (int64_t i = begin; step > 0 ? i < end : i > end; i += step)
    out.push_back(static_cast<size_t>(i));
  return out;
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined() || b.is_undefined()) {
    throw Error(str_cat("cannot apply '", op, "' to an undefined value"));
  }
  const bool numbers = (a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool());
  const bool ints = numbers && !a.is_float() && !b.is_float();
  const auto int_of = [](const Value& v) {
    return v.is_bool() ? int64_t{v.as_bool()} : v.as_int();
  };
  if (op == "+") {
    if (ints) return Value(int_of(a) + int_of(b));
    if (numbers) return Value(a.as_number() + b.as_number());
    if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list()) {
      ListData items = a.as_list();
      items.insert(items.end(), b.as_list().begin(), b.as_list().end());
      return Value::list(std::move(items));
    }
  } else if (op == "-") {
    if (ints) return Value(int_of(a) - int_of(b));
    if (numbers) return Value(a.as_number() - b.as_number());
  } else if (op == "*") {
    if (ints) return Value(int_of(a) * int_of(b));
    if (numbers) return Value(a.as_number() * b.as_number());
    const Value* seq = a.is_string() || a.is_list()     ? &a
                       : (b.is_string() || b.is_list()) ? &b
                                                        : nullptr;
    const Value* count = seq == &a ? &b : &a;
    if (seq != nullptr && (count->is_int() || count->is_bool())) {
      const int64_t n = std::max<int64_t>(0, int_of(*count));
      if (seq->is_string()) {
        std::string out;
        for (int64_t i = 0; i < n; ++i) out += seq->as_string();
        return Value(out);
      }
      ListData items;
      for (int64_t i = 0; i < n; ++i)
        items.insert(items.end(), seq->as_list().begin(), seq->as_list().end());
      return Value::list(std::move(items));
    }
  } else if (op == "/") {
    if (numbers) {
      if (b.as_number() == 0) throw Error("division by zero");
      return Value(a.as_number() / b.as_number());
    }
  } else if (op == "//" || op == "%") {
    if (numbers) {
      if (b.as_number() == 0) throw Error("division by zero");
      if (ints) {
        const int64_t x = int_of(a);
        const int64_t y = int_of(b);
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;  // floor division
        return op == "//" ? Value(q) : Value(x - q * y);
      }
      const double q = std::floor(a.as_number() / b.as_number());
      return op == "//" ? Value(q) : Value(a.as_number() - q * b.as_number());
    }
  } else if (op == "**") {
    if (ints && int_of(b) >= 0) {
      int64_t result = 1;
      for (int64_t i = 0; i < int_of(b); ++i) result *= int_of(a);
      return Value(result);
    }
    if (numbers) return Value(std::pow(a.as_number(), b.as_number()));
  }
  throw Error(str_cat("unsupported operand types for ", op, ": '", a.type_name(), "' and '",
                      b.type_name(), "'"));
}

enum class Flow { kNormal, kBreak, kContinue };

class Evaluator {
 public:
  explicit Evaluator(Scopes& scopes) : scopes_(scopes) {}

  Flow exec(const Body& body, std::string& out) {
    for (const auto& stmt : body) {
      const Flow flow = exec(*stmt, out);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Value eval(const Expr& e) {
    try {
      return eval_unchecked(e);
    } catch (const LocatedError&) {
      throw;
    } catch (const Error& err) {
      fail(e.line, err.what());
    }
  }

 private:
  Flow exec(const Stmt& s, std::string& out) {
    switch (s.kind) {
      case StmtKind::kText:
        out += s.text;
        return Flow::kNormal;
      case StmtKind::kOutput:
        out += eval(*s.expr).to_string();
        return Flow::kNormal;
      case StmtKind::kIf:
        for (const auto& [condition, body] : s.branches) {
          if (eval(*condition).truthy()) return exec(body, out);
        }
        return exec(s.else_body, out);
      case StmtKind::kFor:
        return exec_for(s, out);
      case StmtKind::kSet:
        assign(s, eval(*s.expr));
        return Flow::kNormal;
      case StmtKind::kSetBlock: {
        std::string captured;
        exec(s.body, captured);
        scopes_.set(s.targets[0], Value(std::move(captured)));
        return Flow::kNormal;
      }
      case StmtKind::kBreak:
        if (loop_depth_ == 0) fail(s.line, "'break' outside a loop");
        return Flow::kBreak;
      case StmtKind::kContinue:
        if (loop_depth_ == 0) fail(s.line, "'continue' outside a loop");
        return Flow::kContinue;
      case StmtKind::kMacro:
        define_macro(s);
        return Flow::kNormal;
    }
    return Flow::kNormal;
  }

  void assign(const Stmt& s, const Value& value) {
    if (!s.attribute.empty()) {
      const Value target = scopes_.lookup(s.targets[0]);
      if (!target.is_dict() || !target.as_dict().is_namespace) {
        fail(s.line, str_cat("cannot set attribute '", s.attribute, "' of '", s.targets[0],
                             "', which is not a namespace()"));
      }
      target.set(s.attribute, value);
      return;
    }
    if (s.targets.size() == 1) {
      scopes_.set(s.targets[0], value);
      return;
    }
    ListData items;
    try {
      items = iterate(value);
    } catch (const Error& e) {
      fail(s.line, e.what());
    }
    if (items.size() != s.targets.size()) {
      fail(s.line,
           str_cat("cannot unpack ", items.size(), " values into ", s.targets.size(), " names"));
    }
    for (size_t i = 0; i < items.size(); ++i) scopes_.set(s.targets[i], items[i]);
  }

  Flow exec_for(const Stmt& s, std::string& out) {
    ListData items;
    try {
      items = iterate(eval(*s.expr));
    } catch (const LocatedError&) {
      throw;
    } catch (const Error& e) {
      fail(s.line, e.what());
    }
    scopes_.push();
    struct PopScope {
      Scopes& scopes;
      ~PopScope() { scopes.pop(); }
    } pop{scopes_};
    const auto bind = [&](const Value& item) {
      Stmt target;
      target.line = s.line;
      target.targets = s.targets;
      assign(target, item);
    };
    if (s.filter) {
      ListData kept;
      for (const Value& item : items) {
        bind(item);
        if (eval(*s.filter).truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec(s.else_body, out);
    ++loop_depth_;
    const auto length = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < length; ++i) {
      bind(items[i]);
      DictData loop;
      loop.items = {{"index", Value(i + 1)},
                    {"index0", Value(i)},
                    {"revindex", Value(length - i)},
                    {"revindex0", Value(length - i - 1)},
                    {"first", Value(i == 0)},
                    {"last", Value(i == length - 1)},
                    {"length", Value(length)},
                    {"previtem", i > 0 ? items[i - 1] : Value()},
                    {"nextitem", i + 1 < length ? items[i + 1] : Value()}};
      scopes_.set("loop", Value::dict(std::move(loop)));
      if (exec(s.body, out) == Flow::kBreak) break;
    }
    --loop_depth_;
    return Flow::kNormal;
  }

  void define_macro(const Stmt& s) {
    const Stmt* macro = &s;
    scopes_.set(
        s.text, Value::function(s.text, [this, macro](CallArgs& args) {
          if (args.positional.size() > macro->targets.size()) {
            throw Error(str_cat("macro '", macro->text, "' takes ", macro->targets.size(),
                                " arguments, got ", args.positional.size()));
          }
          std::vector<Value> bound(macro->targets.size());
          for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
          for (const auto& [key, value] : args.keyword) {
            const auto it = std::find(macro->targets.begin(), macro->targets.end(), key);
            if (it == macro->targets.end()) {
              throw Error(str_cat("macro '", macro->text, "' has no parameter '", key, "'"));
            }
            bound[static_cast<size_t>(it - macro->targets.begin())] = value;
          }
          for (size_t i = 0; i < bound.size(); ++i) {
            if (bound[i].is_undefined() && macro->defaults[i]) bound[i] = eval(*macro->defaults[i]);
          }
          scopes_.push();
          struct PopScope {
            Scopes& scopes;
            ~PopScope() { scopes.pop(); }
          } pop{scopes_};
          for (size_t i = 0; i < bound.size(); ++i) scopes_.set(macro->targets[i], bound[i]);
          const int saved_depth = loop_depth_;
          loop_depth_ = 0;
          std::string out;
          exec(macro->body, out);
          loop_depth_ = saved_depth;
          return Value(std::move(out));
        }));
  }

  CallArgs eval_args(const Expr& e, size_t first_positional) {
    CallArgs args;
    for (size_t i = first_positional; i < e.args.size(); ++i)
      args.positional.push_back(eval(*e.args[i]));
    for (const auto& [key, value] : e.kwargs) args.keyword.emplace_back(key, eval(*value));
    return args;
  }

  Value eval_unchecked(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kLiteral:
        return e.literal;
      case ExprKind::kName:
        return scopes_.lookup(e.name);
      case ExprKind::kList:
      case ExprKind::kTuple: {
        ListData items;
        for (const auto& item : e.args) items.push_back(eval(*item));
        return Value::list(std::move(items));
      }
      case ExprKind::kDict: {
        Value dict = Value::dict();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value key = eval(*e.args[i]);
          if (!key.is_string())
            throw Error(str_cat("dict keys must be strings, got ", key.type_name()));
          dict.set(key.as_string(), eval(*e.args[i + 1]));
        }
        return dict;
      }
      case ExprKind::kAttribute:
        return get_attribute(eval(*e.args[0]), e.name, e);
      case ExprKind::kSubscript:
        return get_item(eval(*e.args[0]), eval(*e.args[1]), e);
      case ExprKind::kSlice:
        return slice(e);
      case ExprKind::kCall: {
        const Value callee = eval(*e.args[0]);
        if (!callee.is_function()) {
          throw Error(str_cat(describe(*e.args[0]), " is not callable (", callee.type_name(), ")"));
        }
        CallArgs args = eval_args(e, 1);
        return callee.as_function().call(args);
      }
      case ExprKind::kFilter: {
        const Value input = eval(*e.args[0]);
        CallArgs args = eval_args(e, 1);
        return apply_filter(e.name, input, args);
      }
      case ExprKind::kTest: {
        const Value input = eval(*e.args[0]);
        CallArgs args = eval_args(e, 1);
        return Value(apply_test(e.name, input, args) != e.negated);
      }
      case ExprKind::kUnary: {
        const Value v = eval(*e.args[0]);
        if (e.name == "not") return Value(!v.truthy());
        if (v.is_int()) return Value(e.name == "-" ? -v.as_int() : v.as_int());
        if (v.is_float() || v.is_bool())
          return Value(e.name == "-" ? -v.as_number() : v.as_number());
        throw Error(str_cat("bad operand type for unary ", e.name, ": '", v.type_name(), "'"));
      }
      case ExprKind::kBinary:
        return binary(e);
      case ExprKind::kConditional:
        if (eval(*e.args[1]).truthy()) return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : Value();
    }
    return Value();
  }

  static std::string describe(const Expr& e) {
    if (e.kind == ExprKind::kName) return "'" + e.name + "'";
    if (e.kind == ExprKind::kAttribute) return "'." + e.name + "'";
    return "expression";
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value left = eval(*e.args[0]);
      return left.truthy() ? eval(*e.args[1]) : left;
    }
    if (op == "or") {
      Value left = eval(*e.args[0]);
      return left.truthy() ? left : eval(*e.args[1]);
    }
    const Value a = eval(*e.args[0]);
    const Value b = eval(*e.args[1]);
    if (op == "==") return Value(equals(a, b));
    if (op == "!=") return Value(!equals(a, b));
    if (op == "<") return Value(less_than(a, b));
    if (op == ">") return Value(less_than(b, a));
    if (op == "<=") return Value(!less_than(b, a));
    if (op == ">=") return Value(!less_than(a, b));
    if (op == "in") return Value(contains(b, a));
    if (op == "not in") return Value(!contains(b, a));
    if (op == "~") return Value(a.to_string() + b.to_string());
    return arithmetic(op, a, b);
  }

  Value get_attribute(const Value& object, const std::string& name, const Expr& e) {
    if (object.is_undefined()) {
      throw Error(str_cat(describe(*e.args[0]), " is undefined (getting attribute '", name, "')"));
    }
    if (auto method = find_method(object, name)) return *method;
    if (object.is_dict()) {
      const Value* found = object.find(name);
      return found ? *found : Value();
    }
    return Value();
  }

  Value get_item(const Value& object, const Value& key, const Expr& e) {
    if (object.is_undefined()) {
      throw Error(str_cat(describe(*e.args[0]), " is undefined (getting item ", key.repr(), ")"));
    }
    if (object.is_dict()) {
      if (key.is_string()) {
        const Value* found = object.find(key.as_string());
        if (found) return *found;
        if (auto method = find_method(object, key.as_string())) return *method;
      }
      return Value();
    }
    if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
      const int64_t raw = key.is_bool() ? key.as_bool() : key.as_int();
      if (object.is_list()) {
        const auto size = static_cast<int64_t>(object.as_list().size());
        const int64_t i = raw < 0 ? raw + size : raw;
        return i >= 0 && i < size ? object.as_list()[static_cast<size_t>(i)] : Value();
      }
      const auto chars = characters(object.as_string());
      const auto size = static_cast<int64_t>(chars.size());
      const int64_t i = raw < 0 ? raw + size : raw;
      return i >= 0 && i < size ? Value(chars[static_cast<size_t>(i)]) : Value();
    }
    if (key.is_string()) return get_attribute(object, key.as_string(), e);
    return Value();
  }

  Value slice(const Expr& e) {
    const Value object = eval(*e.args[0]);
    const auto part = [&](size_t i) { return e.args[i] ? eval(*e.args[i]) : Value(); };
    const Value start = part(1);
    const Value stop = part(2);
    const Value step = part(3);
    if (object.is_list()) {
      ListData out;
      for (const size_t i :
           slice_indices(static_cast<int64_t>(object.as_list().size()), start, stop, step)) {
        out.push_back(object.as_list()[i]);
      }
      return Value::list(std::move(out));
    }
    if (object.is_string()) {
      const auto chars = characters(object.as_string());
      std::string out;
      for (const size_t i : slice_indices(static_cast<int64_t>(chars.size()), start, stop, step)) {
        out.append(chars[i]);
      }
      return Value(out);
    }
    throw Error(str_cat("cannot slice '", object.type_name(), "'"));
  }

  Scopes& scopes_;
  int loop_depth_ = 0;
};

}  // namespace

Scopes::Scopes(std::unordered_map<std::string, Value> globals) {
  frames_.push_back(std::move(globals));
  frames_.emplace_back();  // the template's top-level scope
}

Value Scopes::lookup(const std::string& name) const {
  for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
    const auto found = it->find(name);
    if (found != it->end()) return found->second;
  }
  return Value();
}

void Scopes::set(const std::string& name, Value value) { frames_.back()[name] = std::move(value); }

std::string evaluate(const Body& body, Scopes& scopes) {
  std::string out;
  Evaluator evaluator(scopes);
  evaluator.exec(body, out);
  return out;
}

}  // namespace swiftkv::jinja
