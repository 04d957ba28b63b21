// Llama 3 (byte-level BPE) against llama.cpp's ggml-vocab-llama-bpe test vectors, plus
// added tokens, BOS and a long degenerate prompt. Speed is not asserted here (unit tests share
// a loaded CI machine); the long prompt has only a hang guard against quadratic behaviour.
#include <gtest/gtest.h>

#include <chrono>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace swiftkv {
namespace {

using testing::llama3_tokenizer;
using testing::read_vocab_vectors;
using testing::shared_path;

constexpr int32_t kBeginOfText = 128000;
constexpr int32_t kStartHeader = 128006;
constexpr int32_t kEndHeader = 128007;
constexpr int32_t kEotId = 128009;

TEST(Llama3Tokenizer, LoadsFromTokenizerJson) {
  const std::string json = read_file(shared_path("tokenizers/llama3/tokenizer.json"));
  const std::string config = read_file(shared_path("tokenizers/llama3/tokenizer_config.json"));
  const Tokenizer tokenizer = Tokenizer::from_json(json, config);
  EXPECT_EQ(tokenizer.vocab_size(), 128256);
  EXPECT_EQ(tokenizer.kind(), TokenizerKind::kByteLevelBpe);
}

TEST(Llama3Tokenizer, MatchesLlamaCppVectors) {
  const Tokenizer& tokenizer = llama3_tokenizer();
  const auto vectors =
      read_vocab_vectors(shared_path("tokenizers/llama3/ggml-vocab-llama-bpe.gguf"));
  // The files hold 46 texts (46 separators, 46 output lines).
  ASSERT_EQ(vectors.size(), 46U);
  for (const auto& v : vectors) {
    EXPECT_EQ(tokenizer.encode(v.text, /*add_special_tokens=*/false), v.ids) << "text: " << v.text;
  }
}

TEST(Llama3Tokenizer, DecodeRoundTripsVectors) {
  const Tokenizer& tokenizer = llama3_tokenizer();
  for (const auto& v :
       read_vocab_vectors(shared_path("tokenizers/llama3/ggml-vocab-llama-bpe.gguf"))) {
    EXPECT_EQ(tokenizer.decode(v.ids, /*skip_special_tokens=*/false), v.text);
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(v.text, true), true), v.text);
  }
}

TEST(Llama3Tokenizer, SpecialTokensAndBos) {
  const Tokenizer& tokenizer = llama3_tokenizer();
  EXPECT_EQ(tokenizer.bos_id(), kBeginOfText);
  EXPECT_EQ(tokenizer.eos_ids(), std::vector<int32_t>{128001});
  EXPECT_EQ(tokenizer.bos_token(), "<|begin_of_text|>");
  ASSERT_TRUE(tokenizer.chat_template().has_value());

  const std::vector<int32_t> ids = tokenizer.encode("Hello world", true);
  EXPECT_EQ(ids, (std::vector<int32_t>{kBeginOfText, 9906, 1917}));
  EXPECT_EQ(tokenizer.decode(ids, false), "<|begin_of_text|>Hello world");
  EXPECT_EQ(tokenizer.decode(ids, true), "Hello world");

  // Added tokens written in the text are split out before the regex runs.
  const std::vector<int32_t> chat =
      tokenizer.encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", false);
  EXPECT_EQ(chat, (std::vector<int32_t>{kStartHeader, 882, kEndHeader, 271, 13347, kEotId}));
  EXPECT_TRUE(tokenizer.is_special(kEotId));
  EXPECT_FALSE(tokenizer.is_special(9906));
  EXPECT_EQ(tokenizer.token_to_id("<|eot_id|>"), kEotId);
  EXPECT_EQ(tokenizer.token_to_id("Hello"), 9906);
  EXPECT_EQ(tokenizer.token_to_id("no such token"), std::nullopt);
  EXPECT_EQ(tokenizer.id_to_token(9906), "Hello");
  EXPECT_EQ(tokenizer.id_to_token(1917), "\u0120world");
  EXPECT_THROW(tokenizer.id_to_token(128256), Error);
  EXPECT_THROW(tokenizer.decode(std::vector<int32_t>{-1}, false), Error);
}

TEST(Llama3Tokenizer, InvalidUtf8InputIsReplaced) {
  const Tokenizer& tokenizer = llama3_tokenizer();
  const std::vector<int32_t> ids = tokenizer.encode(
      "a\xFF"
      "b",
      false);
  EXPECT_EQ(tokenizer.decode(ids, false),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(Llama3Tokenizer, LongDegeneratePromptRoundTrips) {
  const Tokenizer& tokenizer = llama3_tokenizer();
  std::string text;
  for (const auto& v :
       read_vocab_vectors(shared_path("tokenizers/llama3/ggml-vocab-llama-bpe.gguf"))) {
    text += v.text;
  }
  std::string long_text;
  while (long_text.size() < 1000000) long_text += text;
  long_text += std::string(100000, ' ') + std::string(100000, 'a');  // degenerate pre-tokens
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = tokenizer.encode(long_text, false);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("encoded %zu bytes into %zu tokens in %.3f s\n", long_text.size(), ids.size(),
              seconds);
  EXPECT_EQ(tokenizer.decode(ids, false), long_text);
  // A guard against quadratic work, not a speed claim (well under 1 s in Release): merging the
  // 100,000-byte pre-tokens pair by pair over the whole word is ~10^10 steps.
  EXPECT_LT(seconds, 30.0);
}

}  // namespace
}  // namespace swiftkv
