// Chat-template lexer; see lexer.h for the whitespace rules.
#include "tokenizer/jinja/lexer.h"

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace swiftkv::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

int count_newlines(std::string_view s) {
  int n = 0;
  for (const char c : s) n += c == '\n';
  return n;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t open = find_open();
      std::string text =
          src_.substr(pos_, open == std::string::npos ? std::string::npos : open - pos_);
      const int text_line = line_;
      if (strip_next_text_) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      } else if (trim_next_newline_ && !text.empty() && text[0] == '\n') {
        text.erase(0, 1);
      }
      strip_next_text_ = trim_next_newline_ = false;
      if (open == std::string::npos) {
        emit_text(std::move(text), text_line);
        line_ += count_newlines(std::string_view(src_).substr(pos_));
        break;
      }
      const char kind = src_[open + 1];
      const char modifier = open + 2 < src_.size() ? src_[open + 2] : '\0';
      if (modifier == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if ((kind == '%' || kind == '#') && modifier != '+') {
        // lstrip_blocks: only spaces/tabs between the line start and the tag.
        size_t k = open;
        while (k > 0 && (src_[k - 1] == ' ' || src_[k - 1] == '\t')) --k;
        if (k == 0 || src_[k - 1] == '\n')
          text.resize(text.size() - std::min(text.size(), open - k));
      }
      emit_text(std::move(text), text_line);
      line_ += count_newlines(std::string_view(src_).substr(pos_, open - pos_));
      pos_ = open + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0);
      if (kind == '#') {
        skip_comment();
      } else {
        lex_tag(kind);
      }
    }
    tokens_.push_back({TokenKind::kEnd, "", line_});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(str_cat("chat template line ", line_, ": ", message));
  }

  size_t find_open() const {
    for (size_t p = src_.find('{', pos_); p != std::string::npos; p = src_.find('{', p + 1)) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) {
        return p;
      }
    }
    return std::string::npos;
  }

  void emit_text(std::string text, int line) {
    if (!text.empty()) tokens_.push_back({TokenKind::kText, std::move(text), line});
  }

  void skip_comment() {
    const size_t close = src_.find("#}", pos_);
    if (close == std::string::npos) fail("unterminated comment");
    const char modifier = close > pos_ ? src_[close - 1] : '\0';
    line_ += count_newlines(std::string_view(src_).substr(pos_, close + 2 - pos_));
    pos_ = close + 2;
    if (modifier == '-') {
      strip_next_text_ = true;
    } else if (modifier != '+') {
      trim_next_newline_ = true;
    }
  }

  void lex_tag(char kind) {
    const bool is_stmt = kind == '%';
    tokens_.push_back({is_stmt ? TokenKind::kStmtOpen : TokenKind::kExprOpen, "", line_});
    const std::string_view close = is_stmt ? "%}" : "}}";
    int depth = 0;
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) line_ += src_[pos_++] == '\n';
      if (pos_ >= src_.size()) fail(str_cat("unterminated '{", kind, "' tag"));
      const char c = src_[pos_];
      if (depth == 0) {
        const bool modified = (c == '-' || c == '+') && src_.compare(pos_ + 1, 2, close) == 0;
        if (modified || src_.compare(pos_, 2, close) == 0) {
          tokens_.push_back({is_stmt ? TokenKind::kStmtClose : TokenKind::kExprClose, "", line_});
          pos_ += modified ? 3 : 2;
          if (modified && c == '-') {
            strip_next_text_ = true;
          } else if (is_stmt && !(modified && c == '+')) {
            trim_next_newline_ = true;
          }
          return;
        }
      }
      if (is_name_start(c)) {
        const size_t start = pos_;
        while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
        tokens_.push_back({TokenKind::kName, src_.substr(start, pos_ - start), line_});
      } else if (is_digit(c)) {
        lex_number();
      } else if (c == '\'' || c == '"') {
        lex_string(c);
      } else {
        lex_operator(depth);
      }
    }
  }

  void lex_number() {
    const size_t start = pos_;
    bool is_float = false;
    while (pos_ < src_.size() && (is_digit(src_[pos_]) || src_[pos_] == '_')) ++pos_;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      ++pos_;
      while (pos_ < src_.size() && (is_digit(src_[pos_]) || src_[pos_] == '_')) ++pos_;
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        is_float = true;
        pos_ = p;
        while (pos_ < src_.size() && is_digit(src_[pos_])) ++pos_;
      }
    }
    std::string text;
    for (size_t i = start; i < pos_; ++i) {
      if (src_[i] != '_') text.push_back(src_[i]);
    }
    Token token{is_float ? TokenKind::kFloat : TokenKind::kInt, text, line_};
    try {
      if (is_float) {
        token.float_value = std::stod(text);
      } else {
        token.int_value = std::stoll(text);
      }
    } catch (const std::exception&) {
      fail(str_cat("invalid number '", text, "'"));
    }
    tokens_.push_back(std::move(token));
  }

  // Python string-literal escapes (the unicode-escape codec Jinja uses).
  void lex_string(char quote) {
    const int start_line = line_;
    ++pos_;
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) {
        line_ = start_line;
        fail("unterminated string literal");
      }
      const char c = src_[pos_++];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\' || pos_ >= src_.size()) {
        value.push_back(c);
        continue;
      }
      const char e = src_[pos_++];
      switch (e) {
        case 'n':
          value.push_back('\n');
          break;
        case 't':
          value.push_back('\t');
          break;
        case 'r':
          value.push_back('\r');
          break;
        case 'b':
          value.push_back('\b');
          break;
        case 'f':
          value.push_back('\f');
          break;
        case 'v':
          value.push_back('\v');
          break;
        case 'a':
          value.push_back('\a');
          break;
        case '0':
          value.push_back('\0');
          break;
        case '\\':
          value.push_back('\\');
          break;
        case '\'':
          value.push_back('\'');
          break;
        case '"':
          value.push_back('"');
          break;
        case '\n':
          ++line_;
          break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          const int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          char32_t cp = 0;
          for (int i = 0; i < digits; ++i) {
            const int d = pos_ < src_.size() ? hex_digit(src_[pos_]) : -1;
            if (d < 0) fail(str_cat("bad \\", e, " escape in string literal"));
            cp = cp * 16 + static_cast<char32_t>(d);
            ++pos_;
          }
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            fail("escape outside the Unicode range in string literal");
          }
          utf8::append_code_point(value, cp);
          break;
        }
        default:  // unknown escapes stay as written, like Python
          value.push_back('\\');
          value.push_back(e);
      }
    }
    tokens_.push_back({TokenKind::kString, std::move(value), start_line});
  }

  void lex_operator(int& depth) {
    static constexpr std::string_view kTwoChar[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const std::string_view op : kTwoChar) {
      if (src_.compare(pos_, 2, op) == 0) {
        tokens_.push_back({TokenKind::kOperator, std::string(op), line_});
        pos_ += 2;
        return;
      }
    }
    const char c = src_[pos_];
    if (std::string_view("+-*/%~<>=()[]{},.:|").find(c) == std::string_view::npos) {
      fail(str_cat("unexpected character '", c, "'"));
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    tokens_.push_back({TokenKind::kOperator, std::string(1, c), line_});
    ++pos_;
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool strip_next_text_ = false;
  bool trim_next_newline_ = false;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) {
  std::string normalized;
  normalized.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      normalized.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      normalized.push_back(source[i]);
    }
  }
  if (!normalized.empty() && normalized.back() == '\n') normalized.pop_back();
  return Lexer(std::move(normalized)).run();
}

}  // namespace swiftkv::jinja
