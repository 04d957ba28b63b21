// Llama 2 and tok512 (SentencePiece-style BPE converted from llama2.c tokenizer.bin) against
// llama.cpp's ggml-vocab-llama-spm test vectors; converter output shape and file validation.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/llama2c_converter.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace swiftkv {
namespace {

using testing::llama2_tokenizer;
using testing::read_vocab_vectors;
using testing::shared_path;
using testing::tok512_tokenizer;

TEST(Llama2Tokenizer, MatchesLlamaCppVectors) {
  const Tokenizer& tokenizer = llama2_tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), 32000);
  EXPECT_EQ(tokenizer.kind(), TokenizerKind::kSentencePieceBpe);
  const auto vectors =
      read_vocab_vectors(shared_path("tokenizers/llama2/ggml-vocab-llama-spm.gguf"));
  ASSERT_EQ(vectors.size(), 46U);
  for (const auto& v : vectors) {
    EXPECT_EQ(tokenizer.encode(v.text, /*add_special_tokens=*/false), v.ids) << "text: " << v.text;
  }
}

TEST(Llama2Tokenizer, DecodeRoundTripsVectors) {
  // The dummy prefix "▁" that encode adds becomes a leading space that the Strip decoder removes,
  // so texts that start with spaces (" Hello" -> "▁▁Hello") survive too.
  const Tokenizer& tokenizer = llama2_tokenizer();
  for (const auto& v :
       read_vocab_vectors(shared_path("tokenizers/llama2/ggml-vocab-llama-spm.gguf"))) {
    EXPECT_EQ(tokenizer.decode(v.ids, false), v.text);
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(v.text, true), true), v.text);
  }
}

TEST(Llama2Tokenizer, BosAndSpecialTokens) {
  const Tokenizer& tokenizer = llama2_tokenizer();
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_ids(), std::vector<int32_t>{2});
  EXPECT_EQ(tokenizer.encode("Hello world", true), (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{1, 15043, 3186}, false), "<s> Hello world");
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{1, 15043, 3186, 2}, true), "Hello world");
  EXPECT_TRUE(tokenizer.is_special(0));
  EXPECT_TRUE(tokenizer.is_special(2));
  EXPECT_FALSE(tokenizer.is_special(3));  // <0x00> is a byte token, not special
  EXPECT_EQ(tokenizer.id_to_token(15043), "\u2581Hello");
  EXPECT_EQ(tokenizer.token_to_id("<0x0A>"), 13);
  // Legacy SentencePiece: every text segment gets the dummy prefix, also after "</s>".
  EXPECT_EQ(tokenizer.encode("Hi</s>Hi", false), (std::vector<int32_t>{6324, 2, 6324}));
  // Byte fallback: a character outside the vocab becomes its UTF-8 bytes.
  EXPECT_EQ(tokenizer.encode("\U0001F999", false),
            (std::vector<int32_t>{29871, 3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99}));
}

TEST(Tok512Tokenizer, EncodesStoryText) {
  const Tokenizer& tokenizer = tok512_tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), 512);
  const std::string text = "Once upon a time, there was a little girl named Lily.";
  const std::vector<int32_t> ids = tokenizer.encode(text, true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_LT(ids.size(), text.size() / 2);  // merges happen: well under one token per 2 bytes
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_GT(ids[i], 2) << i;  // no <unk>, <s>, </s>
  EXPECT_EQ(tokenizer.decode(ids, true), text);
  // The first pieces are what a SentencePiece BPE over this vocab produces.
  std::string first;
  for (size_t i = 1; i < 4; ++i) first += tokenizer.id_to_token(ids[i]) + "|";
  EXPECT_EQ(first, "\u2581Once|\u2581upon|\u2581a|");
}

TEST(Tok512Tokenizer, RoundTripsUnicodeThroughBytes) {
  const Tokenizer& tokenizer = tok512_tokenizer();
  const std::string text = "Lily said: \"Привет, 世界!\" \U0001F600\n\tdone";
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(text, true), true), text);
}

TEST(Llama2cConverter, WritesLlamaConverterJson) {
  const nlohmann::json j =
      llama2c_tokenizer_to_hf_json(shared_path("models/stories260K/tok512.bin"));
  EXPECT_EQ(j["model"]["type"], "BPE");
  EXPECT_EQ(j["model"]["byte_fallback"], true);
  EXPECT_EQ(j["model"]["vocab"].size(), 512U);
  EXPECT_EQ(j["model"]["vocab"]["<0x0A>"], 13);
  EXPECT_EQ(j["model"]["vocab"]["\u2581t"], 259);
  EXPECT_EQ(j["added_tokens"][1]["content"], "<s>");
  EXPECT_EQ(j["normalizer"]["normalizers"][0]["type"], "Prepend");
  EXPECT_EQ(j["decoder"]["decoders"][3]["type"], "Strip");
  // The highest-score merged piece comes first.
  EXPECT_EQ(j["model"]["merges"][0], (nlohmann::json{"\u2581", "t"}));

  const std::string dir =
      (std::filesystem::temp_directory_path() / "swiftkv_llama2c_converter_test").string();
  write_hf_tokenizer_files(shared_path("models/stories260K/tok512.bin"), dir);
  const Tokenizer loaded = Tokenizer::load(dir);
  EXPECT_EQ(loaded.encode("Once upon a time", true),
            tok512_tokenizer().encode("Once upon a time", true));
  std::filesystem::remove_all(dir);
}

class Llama2cConverterErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    original_ = read_file(shared_path("models/stories260K/tok512.bin"));
    path_ = (std::filesystem::temp_directory_path() / "swiftkv_bad_tok.bin").string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  // Runs the converter on `contents` and returns the Error message ("" if none).
  std::string convert_error(const std::string& contents) {
    write_file(path_, contents);
    try {
      llama2c_tokenizer_to_hf_json(path_);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  std::string original_;
  std::string path_;
};

TEST_F(Llama2cConverterErrors, RejectsCorruptFiles) {
  EXPECT_NE(convert_error(original_.substr(0, original_.size() - 3)).find("truncated"),
            std::string::npos);
  EXPECT_NE(convert_error(original_.substr(0, 2)).find("too short"), std::string::npos);
  std::string absurd = original_;
  absurd[4 + 4] = '\x7F';  // length of token 0 becomes 127 > max_token_length 7
  EXPECT_NE(convert_error(absurd).find("more than max_token_length"), std::string::npos);
  std::string bad_header = original_;
  bad_header[3] = '\x40';
  EXPECT_NE(convert_error(bad_header).find("max_token_length"), std::string::npos);
  EXPECT_NE(convert_error(original_.substr(0, 200)).find("truncated"), std::string::npos);
  EXPECT_THROW(llama2c_tokenizer_to_hf_json("/nonexistent/tok.bin"), Error);
}

}  // namespace
}  // namespace swiftkv
