// UTF-8 helpers for the tokenizer: code point iteration, validation, and the lossy conversion
// used by decode() and the incremental detokenizer.
//
// Lossy rule: each maximal ill-formed subpart of the input becomes one U+FFFD (Unicode 15 §3.9
// "U+FFFD substitution of maximal subparts", the rule of Rust's String::from_utf8_lossy that
// Hugging Face tokenizers' ByteLevel decoder applies). `LossyDecoder` applies the same rule to a
// byte stream fed in pieces, holding back a truncated sequence until it completes, so streaming
// and whole-buffer conversion give identical text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace swiftkv::utf8 {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Length in bytes of the well-formed sequence starting at s[pos], or 0 when it is ill-formed or
// truncated. Requires pos < s.size().
size_t sequence_length(std::string_view s, size_t pos);

// True when `s` is entirely well-formed UTF-8.
bool is_valid(std::string_view s);

// Appends the UTF-8 encoding of `code_point` (must be <= 0x10FFFF and not a surrogate).
void append_code_point(std::string& out, char32_t code_point);

// Decodes the well-formed sequence at s[pos] (checked by the caller) and advances pos past it.
char32_t decode_at(std::string_view s, size_t& pos);

// `s` with ill-formed parts replaced by U+FFFD (see the file comment).
std::string to_valid_lossy(std::string_view s);

// Streaming form of to_valid_lossy. Not thread-safe; one per stream.
class LossyDecoder {
 public:
  // Converts `bytes` (after any held-back bytes) and appends the complete characters to `out`;
  // a trailing sequence that is still well-formed but incomplete is held back.
  void feed(std::string_view bytes, std::string& out);
  // Appends a held-back incomplete sequence as one U+FFFD and resets.
  void finish(std::string& out);
  bool has_pending() const { return !pending_.empty(); }

 private:
  std::string pending_;
};

}  // namespace swiftkv::utf8
