// The state of a loaded Tokenizer, shared by tokenizer.cc (encode/decode) and
// tokenizer_loader.cc (JSON parsing). Internal to the tokenizer layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv {

struct TokenizerData {
  TokenizerKind kind = TokenizerKind::kByteLevelBpe;
  BpeModel model;
  AddedVocabulary added;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  Decoder decoder;
  int32_t vocab_size = 0;

  std::vector<int32_t> prefix_ids;  // added by encode(add_special_tokens=true)
  std::vector<int32_t> suffix_ids;
  std::optional<int32_t> bos_id;
  std::vector<int32_t> eos_ids;
  std::string bos_token;
  std::string eos_token;
  std::optional<std::string> chat_template;
};

// Parses both files into a TokenizerData (tokenizer_loader.cc). Throws Error.
std::unique_ptr<const TokenizerData> parse_tokenizer(const std::string& tokenizer_json,
                                                     const std::string& tokenizer_config_json);

}  // namespace swiftkv
