// The decoder of tokenizer.json, reduced to what ids -> text needs: the bytes each model piece
// stands for, and how many leading spaces to strip from the whole text.
//
// Supported forms: ByteLevel (GPT-2 characters -> bytes); a Sequence of Replace (String pattern),
// ByteFallback ("<0xXX>" -> that byte), Fuse and Strip (after Fuse, stop 0: the
// transformers LlamaConverter form); Metaspace (replacement -> " ", strip the first space unless
// prepend_scheme is "never"); null (pieces verbatim). Decoding then concatenates bytes and
// converts them to UTF-8 lossily (utf8.h). Hugging Face's ByteFallback writes one U+FFFD per
// byte of an invalid byte run where this writes one per maximal ill-formed subpart; valid text
// decodes identically. Immutable; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace swiftkv {

class Decoder {
 public:
  // Parses the "decoder" value. Throws Error naming an unsupported type or option.
  static Decoder from_json(const nlohmann::json& config);

  // Appends the bytes of model piece `piece` to `out`.
  void append_piece_bytes(std::string_view piece, std::string& out) const;
  // Number of leading ' ' characters removed from the start of the decoded text.
  int strip_leading_spaces() const { return strip_leading_spaces_; }
  bool is_byte_level() const { return byte_level_; }

 private:
  static void parse_into(const nlohmann::json& config, Decoder& decoder, bool& fused);

  bool byte_level_ = false;
  bool byte_fallback_ = false;
  std::vector<std::pair<std::string, std::string>> replacements_;  // pattern -> content
  int strip_leading_spaces_ = 0;
};

}  // namespace swiftkv
