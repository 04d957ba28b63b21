#include "engine/json_prefix.h"

namespace swiftkv {
namespace {

bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

bool JsonObjectPrefix::feed(char byte) { return feed_all(std::string_view(&byte, 1)); }

bool JsonObjectPrefix::feed_all(std::string_view bytes) {
  JsonObjectPrefix next = *this;
  for (const char byte : bytes) {
    if (!next.step(byte)) {
      return false;
    }
  }
  *this = std::move(next);
  return true;
}

void JsonObjectPrefix::value_done() { state_ = stack_.empty() ? State::kDone : State::kAfterValue; }

bool JsonObjectPrefix::close_container(char byte) {
  const char open = byte == '}' ? '{' : '[';
  if (stack_.empty() || stack_.back() != open) {
    return false;
  }
  stack_.pop_back();
  value_done();
  return true;
}

bool JsonObjectPrefix::start_value(char byte) {
  switch (byte) {
    case '{':
      stack_.push_back('{');
      state_ = State::kObjectFirst;
      return true;
    case '[':
      stack_.push_back('[');
      state_ = State::kArrayFirst;
      return true;
    case '"':
      key_ = false;
      state_ = State::kString;
      return true;
    case '-':
      state_ = State::kNumberMinus;
      return true;
    case '0':
      state_ = State::kNumberZero;
      return true;
    case 't':
      literal_ = "rue";
      state_ = State::kLiteral;
      return true;
    case 'f':
      literal_ = "alse";
      state_ = State::kLiteral;
      return true;
    case 'n':
      literal_ = "ull";
      state_ = State::kLiteral;
      return true;
    default:
      if (byte >= '1' && byte <= '9') {
        state_ = State::kNumberInteger;
        return true;
      }
      return false;
  }
}

bool JsonObjectPrefix::end_number(char byte) {
  value_done();  // numbers only occur inside containers: now kAfterValue
  return step(byte);
}

bool JsonObjectPrefix::whitespace(char byte) {
  if (!is_whitespace(byte) || whitespace_run_ >= kMaxWhitespaceRun) {
    return false;
  }
  ++whitespace_run_;
  return true;
}

bool JsonObjectPrefix::step(char byte) {
  if (!is_whitespace(byte)) {
    whitespace_run_ = 0;  // (inside strings the count is not used)
  }
  const auto u = static_cast<unsigned char>(byte);
  switch (state_) {
    case State::kStart:
      if (byte == '{') {
        stack_.push_back('{');
        state_ = State::kObjectFirst;
        return true;
      }
      return whitespace(byte);
    case State::kDone:
      return whitespace(byte);
    case State::kObjectFirst:
      if (byte == '}') {
        return close_container(byte);
      }
      [[fallthrough]];
    case State::kObjectKey:
      if (byte == '"') {
        key_ = true;
        state_ = State::kString;
        return true;
      }
      return whitespace(byte);
    case State::kColon:
      if (byte == ':') {
        state_ = State::kValue;
        return true;
      }
      return whitespace(byte);
    case State::kArrayFirst:
      if (byte == ']') {
        return close_container(byte);
      }
      [[fallthrough]];
    case State::kValue:
      return whitespace(byte) || start_value(byte);
    case State::kAfterValue:
      if (byte == ',') {
        state_ = stack_.back() == '{' ? State::kObjectKey : State::kValue;
        return true;
      }
      if (byte == '}' || byte == ']') {
        return close_container(byte);
      }
      return whitespace(byte);
    case State::kString:
      if (byte == '"') {
        if (key_) {
          key_ = false;
          state_ = State::kColon;
        } else {
          value_done();
        }
        return true;
      }
      if (byte == '\\') {
        state_ = State::kEscape;
        return true;
      }
      if (u < 0x20) {
        return false;  // raw control characters must be escaped
      }
      if (u < 0x80) {
        return true;
      }
      if (u >= 0xC2 && u <= 0xDF) {
        pending_ = 1;
      } else if (u >= 0xE0 && u <= 0xEF) {
        pending_ = 2;
      } else if (u >= 0xF0 && u <= 0xF4) {
        pending_ = 3;
      } else {
        return false;  // a continuation byte without a lead, or not UTF-8 at all
      }
      state_ = State::kUtf8;
      return true;
    case State::kUtf8:
      if ((u & 0xC0) != 0x80) {
        return false;
      }
      if (--pending_ == 0) {
        state_ = State::kString;
      }
      return true;
    case State::kEscape:
      if (byte == 'u') {
        pending_ = 4;
        state_ = State::kUnicode;
        return true;
      }
      if (byte == '"' || byte == '\\' || byte == '/' || byte == 'b' || byte == 'f' || byte == 'n' ||
          byte == 'r' || byte == 't') {
        state_ = State::kString;
        return true;
      }
      return false;
    case State::kUnicode:
      if (!is_hex(byte)) {
        return false;
      }
      if (--pending_ == 0) {
        state_ = State::kString;
      }
      return true;
    case State::kNumberMinus:
      if (byte == '0') {
        state_ = State::kNumberZero;
        return true;
      }
      if (byte >= '1' && byte <= '9') {
        state_ = State::kNumberInteger;
        return true;
      }
      return false;
    case State::kNumberInteger:
      if (is_digit(byte)) {
        return true;
      }
      [[fallthrough]];
    case State::kNumberZero:
      if (byte == '.') {
        state_ = State::kNumberDot;
        return true;
      }
      if (byte == 'e' || byte == 'E') {
        state_ = State::kNumberExponent;
        return true;
      }
      return end_number(byte);
    case State::kNumberDot:
      if (is_digit(byte)) {
        state_ = State::kNumberFraction;
        return true;
      }
      return false;
    case State::kNumberFraction:
      if (is_digit(byte)) {
        return true;
      }
      if (byte == 'e' || byte == 'E') {
        state_ = State::kNumberExponent;
        return true;
      }
      return end_number(byte);
    case State::kNumberExponent:
      if (byte == '+' || byte == '-') {
        state_ = State::kNumberExponentSign;
        return true;
      }
      [[fallthrough]];
    case State::kNumberExponentSign:
      if (is_digit(byte)) {
        state_ = State::kNumberExponentDigits;
        return true;
      }
      return false;
    case State::kNumberExponentDigits:
      return is_digit(byte) || end_number(byte);
    case State::kLiteral:
      if (byte != *literal_) {
        return false;
      }
      if (*++literal_ == '\0') {
        value_done();
      }
      return true;
  }
  return false;
}

}  // namespace swiftkv
