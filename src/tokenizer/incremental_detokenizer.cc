// Streaming detokenization; see incremental_detokenizer.h.
#include "tokenizer/incremental_detokenizer.h"

namespace swiftkv {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer),
      skip_special_tokens_(skip_special_tokens),
      strip_remaining_(tokenizer.strip_leading_spaces()) {}

std::string IncrementalDetokenizer::add(int32_t id) {
  std::string bytes;
  tokenizer_->append_token_bytes(id, bytes);  // validates id first, even when it is skipped
  if (skip_special_tokens_ && tokenizer_->is_special(id)) return {};
  std::string_view view = bytes;
  while (strip_remaining_ > 0 && !view.empty()) {
    if (view.front() == ' ') {
      view.remove_prefix(1);
      --strip_remaining_;
    } else {
      strip_remaining_ = 0;
    }
  }
  std::string text;
  decoder_.feed(view, text);
  return text;
}

std::string IncrementalDetokenizer::finish() {
  std::string text;
  decoder_.finish(text);
  return text;
}

}  // namespace swiftkv
