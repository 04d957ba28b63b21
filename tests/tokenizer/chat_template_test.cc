// Llama 3 and Llama 3.1 chat templates rendered for system + user + assistant conversations.
// Expected strings were derived by reading the templates:
//  - Llama 3 (shared/tokenizers/llama3/tokenizer_config.json): for each message
//    "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + (content | trim) + "<|eot_id|>",
//    bos_token before the first one, and the assistant header appended unconditionally (that
//    release has no add_generation_prompt guard).
//  - Llama 3.1 (fixtures/llama3_1_chat_template.jinja, see fixtures/SOURCE.md): the same, with the
//    assistant header only when add_generation_prompt.
// Meta's full Llama 3.1 Instruct template (tools, builtin tools, date string, raise_exception;
// fixtures/llama3_1_instruct_chat_template.jinja) is checked against renderings by Python's
// jinja2 in transformers' environment (tools/hf/render_chat_templates.py wrote
// fixtures/llama3_1_instruct_cases.json).
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace swiftkv {
namespace {

const nlohmann::json kConversation = nlohmann::json::parse(R"([
  {"role": "system", "content": "You are a helpful assistant."},
  {"role": "user", "content": "  What is 2 + 2?\n"},
  {"role": "assistant", "content": "4"}
])");

const nlohmann::json kContext = {{"bos_token", "<|begin_of_text|>"}, {"eos_token", "<|eot_id|>"}};

constexpr const char* kRendered =
    "<|begin_of_text|>"
    "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 2?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>";
constexpr const char* kGenerationPrompt = "<|start_header_id|>assistant<|end_header_id|>\n\n";

std::string llama3_1_template() {
  return read_file(std::string(SWIFTKV_SOURCE_DIR) +
                   "/tests/tokenizer/fixtures/llama3_1_chat_template.jinja");
}

TEST(ChatTemplate, Llama3) {
  const Tokenizer& tokenizer = testing::llama3_tokenizer();
  ASSERT_TRUE(tokenizer.chat_template().has_value());
  const ChatTemplate chat(*tokenizer.chat_template());
  const nlohmann::json context = {{"bos_token", tokenizer.bos_token()},
                                  {"eos_token", tokenizer.eos_token()}};
  const std::string expected = std::string(kRendered) + kGenerationPrompt;
  EXPECT_EQ(chat.render(kConversation, true, context), expected);
  EXPECT_EQ(chat.render(kConversation, false, context), expected);
}

TEST(ChatTemplate, Llama3_1) {
  const ChatTemplate chat(llama3_1_template());
  EXPECT_EQ(chat.render(kConversation, true, kContext), std::string(kRendered) + kGenerationPrompt);
  EXPECT_EQ(chat.render(kConversation, false, kContext), kRendered);
  // A user-only conversation: the BOS goes before the first message whatever its role.
  const nlohmann::json user_only = nlohmann::json::parse(R"([{"role": "user", "content": "Hi"}])");
  EXPECT_EQ(render_chat_template(llama3_1_template(), user_only, true, kContext),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, RenderedPromptTokenizesWithSpecialTokens) {
  const Tokenizer& tokenizer = testing::llama3_tokenizer();
  const std::string prompt =
      ChatTemplate(llama3_1_template()).render(kConversation, true, kContext);
  // The template already holds the BOS, so the server encodes it without adding another one.
  const std::vector<int32_t> ids = tokenizer.encode(prompt, /*add_special_tokens=*/false);
  ASSERT_GE(ids.size(), 4U);
  EXPECT_EQ(ids[0], 128000);
  EXPECT_EQ(ids[1], 128006);
  EXPECT_EQ(ids[2], tokenizer.token_to_id("system"));
  EXPECT_EQ(ids[3], 128007);
  EXPECT_EQ(ids.back(), 271);  // "\n\n"
  EXPECT_EQ(tokenizer.decode(ids, false), prompt);
}

TEST(ChatTemplate, Llama3_1InstructMatchesTransformersJinja) {
  const std::string dir = std::string(SWIFTKV_SOURCE_DIR) + "/tests/tokenizer/fixtures/";
  const ChatTemplate chat(read_file(dir + "llama3_1_instruct_chat_template.jinja"));
  // ordered_json: tojson must print tool schemas in their given key order, as Python does.
  const auto cases = nlohmann::ordered_json::parse(read_file(dir + "llama3_1_instruct_cases.json"));
  ASSERT_GE(cases.size(), 8U);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto& messages = c.at("messages");
    const bool add_generation_prompt = c.at("add_generation_prompt").get<bool>();
    const auto& context = c.at("context");
    if (c.contains("expected")) {
      EXPECT_EQ(chat.render(messages, add_generation_prompt, context),
                c.at("expected").get<std::string>());
    } else {
      try {
        chat.render(messages, add_generation_prompt, context);
        ADD_FAILURE() << "expected the error: " << c.at("error").get<std::string>();
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(c.at("error").get<std::string>()), std::string::npos)
            << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace swiftkv
