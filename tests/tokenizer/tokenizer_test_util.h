// Shared helpers for the tokenizer tests: reference data paths, the llama.cpp vocab test
// vectors, tokenizers loaded once per test binary, and an independent UTF-8 validator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace swiftkv::testing {

// SWIFTKV_SHARED_DIR + "/" + relative.
std::string shared_path(const std::string& relative);

// One llama.cpp test vector: the text and the expected ids (no BOS).
struct VocabVector {
  std::string text;
  std::vector<int32_t> ids;
};
// Reads `<base>.inp` (texts separated by "\n__ggml_vocab_test__\n") and `<base>.out`.
std::vector<VocabVector> read_vocab_vectors(const std::string& base);

// Loaded once per process (the Llama 3 file takes a few hundred ms to parse).
const Tokenizer& llama3_tokenizer();
// Llama 2, converted from tokenizer.bin by llama2c_converter.
const Tokenizer& llama2_tokenizer();
// stories260K's tok512, converted the same way.
const Tokenizer& tok512_tokenizer();

// Strict UTF-8 check written independently of tokenizer/utf8.h (RFC 3629 byte patterns).
bool is_valid_utf8(const std::string& s);

}  // namespace swiftkv::testing
