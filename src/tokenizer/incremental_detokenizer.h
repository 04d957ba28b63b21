// Streaming detokenization: fed one id at a time, returns the text those ids complete.
//
// Contract: the concatenation of every add() result and finish() equals
// tokenizer.decode(all ids, skip_special_tokens) (for any ids, since both use the same byte
// stream, leading-space strip and lossy UTF-8 rule), and every returned piece is valid UTF-8:
// bytes of a character split across tokens (byte-fallback <0xXX> tokens, byte-level pieces) are
// held back until the character completes; finish() flushes an incomplete tail as U+FFFD. The
// SentencePiece decoder's leading-space strip applies to the start of the stream.
// Cost: O(bytes of the token) per add(). One instance per sequence; not thread-safe. The
// tokenizer must outlive it.
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace swiftkv {

class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens);

  // The newly completed text after `id` (often empty). Throws Error on an invalid id (the state
  // is then unchanged).
  std::string add(int32_t id);
  // Flushes held-back bytes; the detokenizer can keep going afterwards.
  std::string finish();
  // True when bytes of an incomplete character are held back.
  bool has_pending() const { return decoder_.has_pending(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  int strip_remaining_;  // leading spaces still to strip at the start of the stream
  utf8::LossyDecoder decoder_;
};

}  // namespace swiftkv
