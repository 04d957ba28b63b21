// tokenizer.json / tokenizer_config.json parsing: the accepted variants on a tiny vocabulary,
// the newer Metaspace form of SentencePiece BPE, and the errors for corrupt or unsupported files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/llama2c_converter.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace swiftkv {
namespace {

using nlohmann::json;

// A byte-level BPE over "a", "b", "ab", "Ġ", "Ġab" and one special token.
json tiny_byte_level() {
  return json::parse(R"({
    "added_tokens": [{"id": 5, "content": "<|end|>", "special": true, "normalized": false,
                      "lstrip": false, "rstrip": false, "single_word": false}],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
              "merges": ["a b", ["Ġ", "ab"]]}
  })");
}

// The Error message of loading `tokenizer` (+ `config`), or "" if it loads.
std::string load_error(const std::string& tokenizer, const std::string& config = "") {
  try {
    Tokenizer::from_json(tokenizer, config);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string load_error(const json& tokenizer, const std::string& config = "") {
  return load_error(tokenizer.dump(), config);
}

TEST(TokenizerJson, TinyByteLevel) {
  const Tokenizer t = Tokenizer::from_json(tiny_byte_level().dump(), "");
  EXPECT_EQ(t.vocab_size(), 6);
  EXPECT_EQ(t.encode("ab ab<|end|>", true), (std::vector<int32_t>{2, 4, 5}));
  EXPECT_EQ(t.prefix_ids(), std::vector<int32_t>{});  // no config, no TemplateProcessing
  EXPECT_EQ(t.decode(std::vector<int32_t>{2, 4, 5}, true), "ab ab");
  EXPECT_EQ(t.encode("abc", false), (std::vector<int32_t>{2}));  // no "c", no unk: dropped
}

TEST(TokenizerJson, AddedTokenOptions) {
  json j = tiny_byte_level();
  j["added_tokens"].push_back(
      {{"id", 6}, {"content", "<x>"}, {"lstrip", true}, {"rstrip", true}, {"special", false}});
  j["added_tokens"].push_back({{"id", 7}, {"content", "<w>"}, {"single_word", true}});
  const Tokenizer t = Tokenizer::from_json(j.dump(), "");
  EXPECT_EQ(t.encode("a <x> b", false), (std::vector<int32_t>{0, 6, 1}));  // spaces absorbed
  EXPECT_FALSE(t.is_special(6));
  EXPECT_EQ(t.decode(std::vector<int32_t>{0, 6, 1}, true), "a<x>b");  // non-special: kept
  EXPECT_EQ(t.encode("a <w>", false), (std::vector<int32_t>{0, 3, 7}));
  // Inside a word, a single_word token is not matched; its characters are not in this vocab.
  EXPECT_EQ(t.encode("a<w>", false), (std::vector<int32_t>{0}));
}

TEST(TokenizerJson, ConfigControlsBosAndEos) {
  const std::string json_text = tiny_byte_level().dump();
  const Tokenizer t = Tokenizer::from_json(
      json_text, R"({"bos_token": {"content": "a", "__type": "AddedToken"}, "eos_token": "<|end|>",
                    "add_eos_token": true, "chat_template": [{"name": "tool_use", "template": "T"},
                    {"name": "default", "template": "D"}]})");
  EXPECT_EQ(t.bos_id(), 0);
  EXPECT_EQ(t.eos_ids(), std::vector<int32_t>{5});
  // No add_bos_token and no TemplateProcessing: BOS by default; add_eos_token adds EOS.
  EXPECT_EQ(t.encode("b", true), (std::vector<int32_t>{0, 1, 5}));
  EXPECT_EQ(t.chat_template(), "D");
  const Tokenizer no_bos =
      Tokenizer::from_json(json_text, R"({"bos_token": "a", "add_bos_token": false})");
  EXPECT_EQ(no_bos.encode("b", true), (std::vector<int32_t>{1}));
}

TEST(TokenizerJson, TemplateProcessingAddsItsTokens) {
  json j = tiny_byte_level();
  j["post_processor"] = json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel"},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "a", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|end|>", "type_id": 0}}],
       "special_tokens": {"a": {"id": "a", "ids": [0], "tokens": ["a"]},
                          "<|end|>": {"id": "<|end|>", "ids": [5], "tokens": ["<|end|>"]}}}]})");
  const Tokenizer t = Tokenizer::from_json(j.dump(), "");
  EXPECT_EQ(t.encode("b", true), (std::vector<int32_t>{0, 1, 5}));
  EXPECT_EQ(t.encode("b", false), (std::vector<int32_t>{1}));
  EXPECT_EQ(t.bos_id(), 0);
}

TEST(TokenizerJson, MetaspaceFormOfSentencePiece) {
  // transformers' newer LlamaConverter form: no normalizer, Metaspace(prepend_scheme "first").
  json j = llama2c_tokenizer_to_hf_json(testing::shared_path("tokenizers/llama2/tokenizer.bin"));
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"},
                        {"replacement", "\u2581"},
                        {"prepend_scheme", "first"},
                        {"split", false}};
  const Tokenizer metaspace = Tokenizer::from_json(j.dump(), "");
  const Tokenizer& legacy = testing::llama2_tokenizer();
  for (const auto& v : testing::read_vocab_vectors(
           testing::shared_path("tokenizers/llama2/ggml-vocab-llama-spm.gguf"))) {
    if (v.text.starts_with(' ')) continue;  // Metaspace does not add "▁" before a leading space
    EXPECT_EQ(metaspace.encode(v.text, false), v.ids) << v.text;
    EXPECT_EQ(metaspace.decode(v.ids, false), v.text);
  }
  // "first": no dummy prefix after an added token, unlike the legacy normalizer.
  EXPECT_EQ(metaspace.encode("Hi</s>Hi", false), (std::vector<int32_t>{6324, 2, 18567}));
  EXPECT_EQ(legacy.encode("Hi</s>Hi", false), (std::vector<int32_t>{6324, 2, 6324}));
}

TEST(TokenizerJson, CorruptFilesGiveUsefulErrors) {
  const auto expect_error = [](const std::string& message, const std::string& fragment) {
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "message: '" << message << "' lacks '" << fragment << "'";
  };
  expect_error(load_error(std::string("{\"model\": ")),
               "tokenizer.json: [json.exception.parse_error");
  expect_error(load_error(std::string("[]")), "tokenizer.json: top level: expected a JSON object");
  expect_error(load_error(json::object()), "tokenizer.json: top level: missing field 'model'");

  json j = tiny_byte_level();
  j["model"]["type"] = "Unigram";
  expect_error(load_error(j), "unsupported model type 'Unigram' (only BPE is supported)");

  j = tiny_byte_level();
  j["model"]["merges"].push_back("a zz");
  expect_error(load_error(j), "merge 2 'a zz' names 'zz', which is not in the vocab");

  j = tiny_byte_level();
  j["model"]["merges"].push_back("b a");
  expect_error(load_error(j), "merge 2 'b a' produces 'ba', which is not in the vocab");

  j = tiny_byte_level();
  j["model"]["merges"].push_back("a b c");
  expect_error(load_error(j), "merge 2 'a b c' is not two pieces separated by one space");

  j = tiny_byte_level();
  j["model"]["vocab"]["c"] = -1;
  expect_error(load_error(j), "vocab piece 'c': id -1 is out of range");

  j = tiny_byte_level();
  j["model"]["vocab"]["c"] = 1LL << 40;
  expect_error(load_error(j), "vocab piece 'c': id 1099511627776 is out of range");

  j = tiny_byte_level();
  j["model"]["vocab"]["c"] = 1;
  expect_error(load_error(j), "vocab id 1 is used by both");

  j = tiny_byte_level();
  j["model"]["vocab"]["c"] = "seven";
  expect_error(load_error(j), "vocab piece 'c': id must be an integer");

  j = tiny_byte_level();
  j["model"].erase("vocab");
  expect_error(load_error(j), "model: missing field 'vocab'");

  j = tiny_byte_level();
  j["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(\\p{L}"}}}, {"behavior", "Isolated"}};
  expect_error(load_error(j), "invalid regex '(\\p{L}': missing closing parenthesis at offset 6");

  j = tiny_byte_level();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_error(load_error(j), "unsupported pre_tokenizer type 'Whitespace'");

  j = tiny_byte_level();
  j["normalizer"] = {{"type", "NFKC"}};
  expect_error(load_error(j), "unsupported normalizer type 'NFKC'");

  j = tiny_byte_level();
  j["decoder"] = {{"type", "WordPiece"}};
  expect_error(load_error(j), "unsupported decoder type 'WordPiece'");

  j = tiny_byte_level();
  j["added_tokens"][0]["id"] = 2;
  expect_error(load_error(j), "added token '<|end|>' has id 2, which the vocab gives to 'ab'");

  j = tiny_byte_level();
  j["model"]["unk_token"] = "<unk>";
  expect_error(load_error(j), "model: unk_token '<unk>' is not in the vocab");

  const std::string ok = tiny_byte_level().dump();
  expect_error(load_error(ok, "{bad"), "tokenizer_config.json: [json.exception.parse_error");
  expect_error(load_error(ok, R"({"bos_token": "<s>"})"),
               "tokenizer_config.json: bos_token '<s>' is not in the vocab");
  expect_error(load_error(ok, R"({"add_bos_token": true})"),
               "tokenizer_config.json: add_bos_token is true but no bos_token is configured");
  expect_error(load_error(ok, R"({"add_bos_token": "yes"})"), "must be a boolean");

  try {
    Tokenizer::load("/nonexistent/model");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    expect_error(e.what(), "/nonexistent/model/tokenizer.json: not found");
  }
}

}  // namespace
}  // namespace swiftkv
