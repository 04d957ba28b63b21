// IncrementalDetokenizer: streamed text equals the full decode and is always valid UTF-8.
#include "tokenizer/incremental_detokenizer.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/tokenizer_test_util.h"

namespace swiftkv {
namespace {

using testing::is_valid_utf8;
using testing::read_vocab_vectors;
using testing::shared_path;

// Streams `ids` one by one; checks every piece is valid UTF-8 and returns the concatenation.
std::string stream(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip) {
  IncrementalDetokenizer detok(tokenizer, skip);
  std::string text;
  for (const int32_t id : ids) {
    const std::string piece = detok.add(id);
    EXPECT_TRUE(is_valid_utf8(piece)) << "after id " << id;
    text += piece;
  }
  const std::string tail = detok.finish();
  EXPECT_TRUE(is_valid_utf8(tail));
  return text + tail;
}

void check_vectors(const Tokenizer& tokenizer, const std::string& base) {
  for (const auto& v : read_vocab_vectors(base)) {
    for (const bool skip : {false, true}) {
      const std::vector<int32_t> ids = tokenizer.encode(v.text, /*add_special_tokens=*/true);
      EXPECT_EQ(stream(tokenizer, ids, skip), tokenizer.decode(ids, skip)) << v.text;
      EXPECT_EQ(stream(tokenizer, v.ids, skip), v.text);
    }
  }
}

TEST(IncrementalDetokenizer, Llama3VectorsMatchFullDecode) {
  check_vectors(testing::llama3_tokenizer(),
                shared_path("tokenizers/llama3/ggml-vocab-llama-bpe.gguf"));
}

TEST(IncrementalDetokenizer, Llama2VectorsMatchFullDecode) {
  check_vectors(testing::llama2_tokenizer(),
                shared_path("tokenizers/llama2/ggml-vocab-llama-spm.gguf"));
}

TEST(IncrementalDetokenizer, HoldsBackSplitCharacters) {
  const Tokenizer& tokenizer = testing::llama2_tokenizer();
  // "🦙" is not in the Llama 2 vocab: "▁" then four byte-fallback tokens.
  const std::vector<int32_t> ids = tokenizer.encode("\U0001F999!", false);
  ASSERT_EQ(ids.size(), 6U);
  IncrementalDetokenizer detok(tokenizer, false);
  EXPECT_EQ(detok.add(ids[0]), "");  // the dummy-prefix space is stripped
  EXPECT_EQ(detok.add(ids[1]), "");
  EXPECT_EQ(detok.add(ids[2]), "");
  EXPECT_EQ(detok.add(ids[3]), "");
  EXPECT_TRUE(detok.has_pending());
  EXPECT_EQ(detok.add(ids[4]), "\U0001F999");
  EXPECT_EQ(detok.add(ids[5]), "!");
  EXPECT_EQ(detok.finish(), "");
}

TEST(IncrementalDetokenizer, FlushesIncompleteTailAsReplacement) {
  const Tokenizer& tokenizer = testing::llama2_tokenizer();
  const std::vector<int32_t> ids = tokenizer.encode("a\U0001F999", false);
  const std::vector<int32_t> truncated(ids.begin(), ids.end() - 1);  // drop the last byte token
  IncrementalDetokenizer detok(tokenizer, false);
  std::string text;
  for (const int32_t id : truncated) text += detok.add(id);
  EXPECT_EQ(text, "a");
  EXPECT_EQ(detok.finish(), "\uFFFD");
  EXPECT_EQ(tokenizer.decode(truncated, false), "a\uFFFD");
  // Invalid sequences in the middle: streamed and full decode agree and stay valid.
  const std::vector<int32_t> garbage = {3 + 0xF0, 3 + 'a', 3 + 0x80, 3 + 0xE2, 3 + 0x82, 15043};
  EXPECT_EQ(stream(tokenizer, garbage, false), tokenizer.decode(garbage, false));
  EXPECT_TRUE(is_valid_utf8(tokenizer.decode(garbage, false)));
}

TEST(IncrementalDetokenizer, ByteLevelSplitCharacters) {
  const Tokenizer& tokenizer = testing::llama3_tokenizer();
  // Llama 3 splits this emoji into two byte-level tokens (llama.cpp vector: 9468 248 222 ...).
  const std::vector<int32_t> ids = {9468, 248, 222};
  IncrementalDetokenizer detok(tokenizer, false);
  EXPECT_EQ(detok.add(ids[0]), "");
  EXPECT_EQ(detok.add(ids[1]), "");
  const std::string last = detok.add(ids[2]);
  EXPECT_EQ(last, tokenizer.decode(ids, false));
  EXPECT_EQ(last, "\U0001F680");
  EXPECT_EQ(detok.finish(), "");
}

TEST(IncrementalDetokenizer, SkipsSpecialTokensAndRejectsBadIds) {
  const Tokenizer& tokenizer = testing::llama3_tokenizer();
  IncrementalDetokenizer detok(tokenizer, true);
  EXPECT_EQ(detok.add(128000), "");
  EXPECT_EQ(detok.add(9906), "Hello");
  EXPECT_EQ(detok.add(128009), "");
  EXPECT_THROW(detok.add(200000), Error);
  IncrementalDetokenizer keep(tokenizer, false);
  EXPECT_EQ(keep.add(128009), "<|eot_id|>");
}

}  // namespace
}  // namespace swiftkv
