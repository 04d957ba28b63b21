// A compiled PCRE2 regular expression over UTF-8 text (PCRE2_UTF | PCRE2_UCP, JIT when available),
// for the Split pre-tokenizer and Replace normalizer of tokenizer.json.
//
// Hugging Face tokenizers compiles these patterns with Oniguruma; the Llama patterns
// (`(?i:...)`, `\p{L}`, `\p{N}`, `\s`, `(?!\S)`) mean the same in PCRE2 with UCP.
// Immutable after construction; `find_all` may be called from several threads at once (match
// data is allocated per call). Movable, not copyable.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace swiftkv {

class Regex {
 public:
  // A match [begin, end) in bytes.
  struct Match {
    size_t begin;
    size_t end;
  };

  // Compiles `pattern`; throws Error quoting the pattern, the PCRE2 message and the offset.
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches, left to right (an empty match advances by one character).
  // `subject` must be valid UTF-8 (not re-checked). Throws Error if matching fails (e.g. a
  // resource limit), naming the pattern.
  std::vector<Match> find_all(std::string_view subject) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  std::unique_ptr<Code> code_;
};

}  // namespace swiftkv
