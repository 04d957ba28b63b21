// Built-in filters, tests, methods and global functions of the chat-template interpreter, with
// Jinja / Python semantics (and transformers' tojson: json.dumps with ensure_ascii=False).
//
// Filters: abs, capitalize, count, d/default, first, float, indent, int, items, join, last,
// length, list, lower, map, max, min, reject, rejectattr, replace, reverse, safe, select,
// selectattr, sort, string, title, tojson, trim, unique, upper.
// Tests: boolean, callable, defined, divisibleby, eq/equalto/==, even, false, float, ge/>=,
// gt/>, in, integer, iterable, le/<=, lower, lt/<, mapping, ne/!=, none, number, odd, sameas,
// sequence, string, true, undefined, upper.
// Methods: str.strip/lstrip/rstrip/startswith/endswith/split/upper/lower/title/capitalize/
// replace/find/join; dict.items/keys/values/get. Globals: range, namespace, dict,
// raise_exception, strftime_now (local time). Case mapping is ASCII-only; whitespace for
// trim/strip/split is Python's (Unicode) whitespace. Errors are Error without a line number
// (the evaluator adds it).
#pragma once

#include <optional>
#include <string>
#include <unordered_map>

#include "tokenizer/jinja/value.h"

namespace swiftkv::jinja {

Value apply_filter(const std::string& name, const Value& input, CallArgs& args);
bool apply_test(const std::string& name, const Value& input, CallArgs& args);
// `object.name` as a bound method, or nullopt when `object` has no such method.
std::optional<Value> find_method(const Value& object, const std::string& name);
// Iterates a value like Python's iter(): list items, dict keys, string characters,
// undefined -> nothing. Throws Error for other types.
ListData iterate(const Value& value);
// Python `item in container` (substring, list membership, dict key).
bool contains(const Value& container, const Value& item);
// The global functions available to every template.
std::unordered_map<std::string, Value> builtin_globals();

}  // namespace swiftkv::jinja
