// Helpers for the tokenizer tests; see tokenizer_test_util.h.
#include "tokenizer/tokenizer_test_util.h"

#include <gtest/gtest.h>

#include <sstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/llama2c_converter.h"

namespace swiftkv::testing {

std::string shared_path(const std::string& relative) {
  return std::string(SWIFTKV_SHARED_DIR) + "/" + relative;
}

std::vector<VocabVector> read_vocab_vectors(const std::string& base) {
  const std::string inputs = read_file(base + ".inp");
  const std::string outputs = read_file(base + ".out");
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<VocabVector> vectors;
  size_t start = 0;
  for (size_t pos = inputs.find(separator); pos != std::string::npos;
       pos = inputs.find(separator, start)) {
    vectors.push_back({inputs.substr(start, pos - start), {}});
    start = pos + separator.size();
  }
  std::istringstream lines(outputs);
  std::string line;
  size_t index = 0;
  while (std::getline(lines, line)) {
    if (index >= vectors.size()) throw Error(base + ".out: more lines than inputs");
    std::istringstream numbers(line);
    int32_t id = 0;
    while (numbers >> id) vectors[index].ids.push_back(id);
    ++index;
  }
  if (index != vectors.size()) throw Error(base + ".out: fewer lines than inputs");
  return vectors;
}

const Tokenizer& llama3_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::load(shared_path("tokenizers/llama3"));
  return tokenizer;
}

const Tokenizer& llama2_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::from_json(
      llama2c_tokenizer_to_hf_json(shared_path("tokenizers/llama2/tokenizer.bin")).dump(),
      llama2c_tokenizer_config_json().dump());
  return tokenizer;
}

const Tokenizer& tok512_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::from_json(
      llama2c_tokenizer_to_hf_json(shared_path("models/stories260K/tok512.bin")).dump(),
      llama2c_tokenizer_config_json().dump());
  return tokenizer;
}

bool is_valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace swiftkv::testing
