// Tokenizer: Hugging Face tokenizer.json (BPE) + tokenizer_config.json -> ids and back.
//
// Two flavours, detected from the JSON:
//  - byte-level BPE (Llama 3): Split(regex) + ByteLevel pre-tokenizer, ByteLevel decoder;
//  - SentencePiece-style BPE with byte fallback (Llama 2, llama2.c tokenizers converted by
//    llama2c_converter.h): Prepend("▁")+Replace(" "->"▁") normalizer or a Metaspace
//    pre-tokenizer, Replace/ByteFallback/Fuse/Strip decoder.
// encode: split out added tokens, then normalizer -> pre-tokenizer -> BPE per text segment
// (tokenizers' pipeline); invalid UTF-8 input is first converted with U+FFFD replacements.
// decode: token bytes -> leading-space strip -> lossy UTF-8 (decoder.h, utf8.h).
//
// BOS/EOS on encode(add_special_tokens=true), first rule that applies:
//  1. tokenizer_config.json add_bos_token / add_eos_token;
//  2. a TemplateProcessing post-processor (its special tokens before/after the text);
//  3. otherwise BOS is added when a bos_token is configured, EOS is not. (The first Llama 3
//     release has a ByteLevel-only post-processor, so transformers adds no BOS there, a known
//     bug that Meta later fixed by shipping TemplateProcessing; the model expects BOS.)
// transformers' clean_up_tokenization_spaces is not applied (it breaks decode(encode(x)) == x).
//
// Immutable after loading; every method is const and thread-safe. Movable, not copyable
// (the Llama 3 vocab is ~20 MB). Loading the 9 MB Llama 3 tokenizer.json takes a few hundred ms.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace swiftkv {

enum class TokenizerKind { kByteLevelBpe, kSentencePieceBpe };

struct TokenizerData;

class Tokenizer {
 public:
  // Reads `model_dir`/tokenizer.json and, if present, `model_dir`/tokenizer_config.json.
  // Throws Error naming the file and the problem.
  static Tokenizer load(const std::string& model_dir);
  // Builds from the two files' contents (`tokenizer_config_json` may be empty).
  static Tokenizer from_json(const std::string& tokenizer_json,
                             const std::string& tokenizer_config_json);

  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text`; with `add_special_tokens`, BOS/EOS per the rules above. Added tokens
  // (e.g. "<|eot_id|>") written in the text are recognised, as in transformers.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  // Text of `ids`; throws Error on an id outside [0, vocab_size) or without a token.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const;

  // One past the largest id (model vocab and added tokens).
  int32_t vocab_size() const;
  TokenizerKind kind() const;
  std::optional<int32_t> bos_id() const;
  // The EOS token(s) of tokenizer_config.json (empty when none is configured).
  const std::vector<int32_t>& eos_ids() const;
  // The ids encode(..., true) puts before / after the text.
  const std::vector<int32_t>& prefix_ids() const;
  const std::vector<int32_t>& suffix_ids() const;
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // The vocab piece (or added token content) of `id`; throws Error when out of range.
  std::string id_to_token(int32_t id) const;
  // True for added tokens marked special (skipped by skip_special_tokens).
  bool is_special(int32_t id) const;

  // tokenizer_config.json values (empty strings / nullopt when absent).
  const std::string& bos_token() const;
  const std::string& eos_token() const;
  const std::optional<std::string>& chat_template() const;

  // For streaming detokenization (incremental_detokenizer.h): appends the raw bytes `id`
  // contributes to the decoded text (before the leading-space strip and UTF-8 repair).
  // Throws Error like decode() on a bad id.
  void append_token_bytes(int32_t id, std::string& out) const;
  // Number of leading ' ' the decoder strips from the whole text (1 for SentencePiece, else 0).
  int strip_leading_spaces() const;

 private:
  explicit Tokenizer(std::unique_ptr<const TokenizerData> data);
  std::unique_ptr<const TokenizerData> data_;
};

}  // namespace swiftkv
