// The constraint behind `response_format: {"type": "json_object"}`: an incremental checker of
// "these bytes begin a JSON text (RFC 8259) whose top-level value is an object", fed byte by
// byte. The sampler masks every token whose bytes the checker would reject, so the output is
// always a prefix of a JSON object, and allows the end token only once the object is closed
// (Sampler::constrain_to_json_object).
//
// Grammar: optional whitespace, an object, optional whitespace; inside, any JSON values:
// objects, arrays, strings (escapes \" \\ \/ \b \f \n \r \t \uXXXX, no raw control characters,
// UTF-8 sequences checked for lead and continuation bytes), numbers (-?(0|[1-9]d*)(.d+)?
// ([eE][+-]?d+)?), true, false, null. One restriction on top of JSON: at most
// kMaxWhitespaceRun whitespace bytes in a row outside strings (as llama.cpp's JSON grammar
// bounds whitespace), so a model that prefers blanks cannot spend its whole budget on them.
// Copyable and small (a nesting stack of brackets), so a caller can try a token's bytes on a
// copy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace swiftkv {

class JsonObjectPrefix {
 public:
  static constexpr int kMaxWhitespaceRun = 24;  // enough for a newline and deep indentation

  // Consumes one byte; false (and the state unchanged) if no JSON object text continues so.
  bool feed(char byte);
  // Consumes `bytes` on a copy; true (and the copy kept) if every byte was accepted.
  bool feed_all(std::string_view bytes);
  // True when the top-level object is closed (only whitespace may follow).
  bool complete() const { return state_ == State::kDone; }

 private:
  enum class State : uint8_t {
    kStart,          // whitespace, then '{'
    kObjectFirst,    // after '{': a key or '}'
    kObjectKey,      // after ',' in an object: a key
    kColon,          // after a key
    kValue,          // after ':' or ',' in an array: a value
    kArrayFirst,     // after '[': a value or ']'
    kAfterValue,     // after a value inside a container: ',' or the closing bracket
    kString,         // inside a string (key or value)
    kEscape,         // after '\' in a string
    kUnicode,        // inside \uXXXX (pending_ hex digits left)
    kUtf8,           // inside a multi-byte UTF-8 sequence (pending_ continuation bytes left)
    kNumberMinus,    // after '-': a digit
    kNumberZero,     // after a leading 0
    kNumberInteger,  // integer digits
    kNumberDot,      // after '.': a digit
    kNumberFraction,
    kNumberExponent,      // after 'e' / 'E': a sign or a digit
    kNumberExponentSign,  // after the exponent's sign: a digit
    kNumberExponentDigits,
    kLiteral,  // inside true / false / null (literal_ is what is left)
    kDone,     // after the top-level object: whitespace only
  };

  bool step(char byte);
  bool whitespace(char byte);   // `byte` is whitespace outside a string and the run allows it
  bool start_value(char byte);  // a value begins with `byte` (state kValue / kArrayFirst)
  bool end_number(char byte);   // `byte` follows a complete number
  void value_done();            // a value (scalar or container) just ended
  bool close_container(char byte);

  State state_ = State::kStart;
  bool key_ = false;               // the open string is an object key
  uint8_t pending_ = 0;            // see kUnicode, kUtf8
  uint8_t whitespace_run_ = 0;     // whitespace bytes in a row outside strings
  const char* literal_ = nullptr;  // the rest of the open literal
  std::string stack_;              // '{' / '[' of the open containers
};

}  // namespace swiftkv
