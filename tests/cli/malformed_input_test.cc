// The `swiftkv` binary on malformed input: every broken checkpoint or tokenizer gives a clear
// message naming the problem and exit status 1 (never a crash, never the internal-error 2).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../model/io_test_util.h"
#include "core/mapped_file.h"
#include "run_swiftkv.h"

namespace swiftkv {
namespace {

namespace fs = std::filesystem;

const std::string kShared = SWIFTKV_SHARED_DIR;

using cli_test::run;
using cli_test::RunResult;

class MalformedInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    base_ = new io_test::TempDir();
    const RunResult r =
        run("convert --llama2c " + kShared + "/models/stories260K/stories260K.bin --tokenizer " +
            kShared + "/models/stories260K/tok512.bin --output " + base_->file("good"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete base_;
    base_ = nullptr;
  }

  // A copy of the good checkpoint to break.
  std::string copy_model() {
    const std::string dir = work_.file("model");
    fs::copy(base_->file("good"), dir);
    return dir;
  }

  // Rewrites model.safetensors with `header` (JSON) and `data_bytes` of data.
  static void write_safetensors(const std::string& dir, const std::string& header,
                                size_t data_bytes) {
    std::string bytes(8, '\0');
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) {
      bytes[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xffU);
    }
    bytes += header;
    bytes += std::string(data_bytes, '\1');
    io_test::write_bytes(dir + "/model.safetensors", bytes);
  }

  // Expects a clean failure of `generate` whose message contains every fragment.
  void expect_clean_failure(const std::string& dir, std::initializer_list<std::string> fragments) {
    const RunResult r = run("generate --model " + dir + " --prompt hi --max-tokens 4");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
    for (const std::string& fragment : fragments) {
      EXPECT_NE(r.output.find(fragment), std::string::npos)
          << "missing '" << fragment << "' in: " << r.output;
    }
  }

  static io_test::TempDir* base_;
  io_test::TempDir work_;
};

io_test::TempDir* MalformedInput::base_ = nullptr;

TEST_F(MalformedInput, GoodCheckpointGenerates) {
  const RunResult r = run("generate --model " + base_->file("good") +
                          " --prompt 'Once upon a time' --max-tokens 8 --temperature 0");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Once upon a time, there was"), std::string::npos) << r.output;
}

TEST_F(MalformedInput, TruncatedSafetensorsHeader) {
  const std::string dir = copy_model();
  io_test::write_bytes(dir + "/model.safetensors", std::string("\x10\x00\x00", 3));
  expect_clean_failure(dir, {"model.safetensors"});
}

TEST_F(MalformedInput, OversizedSafetensorsHeader) {
  const std::string dir = copy_model();
  io_test::write_bytes(dir + "/model.safetensors",
                       std::string("\xff\xff\xff\x00\x00\x00\x00\x00{}", 10));
  expect_clean_failure(dir, {"model.safetensors", "header"});
}

TEST_F(MalformedInput, OffsetsOutsideTheFile) {
  const std::string dir = copy_model();
  write_safetensors(
      dir, R"({"model.norm.weight":{"dtype":"F32","shape":[64],"data_offsets":[0,1000000]}})", 256);
  expect_clean_failure(dir, {"model.norm.weight"});
}

TEST_F(MalformedInput, UnsupportedDtype) {
  const std::string dir = copy_model();
  write_safetensors(
      dir, R"({"model.norm.weight":{"dtype":"I64","shape":[64],"data_offsets":[0,512]}})", 512);
  expect_clean_failure(dir, {"model.norm.weight", "I64"});
}

TEST_F(MalformedInput, WrongShapeAndMissingTensor) {
  const std::string dir = copy_model();
  // A well-formed file holding one tensor of the wrong shape: the loader names it.
  write_safetensors(
      dir, R"({"model.norm.weight":{"dtype":"F32","shape":[32],"data_offsets":[0,128]}})", 128);
  expect_clean_failure(dir, {"missing tensor", "model.embed_tokens.weight"});
}

TEST_F(MalformedInput, MisShapedTensor) {
  const std::string dir = copy_model();
  const std::string header = R"({"model.embed_tokens.weight":{"dtype":"F32","shape":[512,32],)"
                             R"("data_offsets":[0,65536]}})";
  write_safetensors(dir, header, 65536);
  expect_clean_failure(dir, {"model.embed_tokens.weight", "[512, 32]"});
}

TEST_F(MalformedInput, InconsistentConfig) {
  const std::string dir = copy_model();
  auto config = nlohmann::json::parse(read_file(dir + "/config.json"));
  config["num_key_value_heads"] = 3;  // 8 heads are not a multiple of 3
  io_test::write_bytes(dir + "/config.json", config.dump());
  expect_clean_failure(dir, {"num_key_value_heads"});
}

TEST_F(MalformedInput, ConfigIsNotJson) {
  const std::string dir = copy_model();
  io_test::write_bytes(dir + "/config.json", "{\"hidden_size\": 64,");
  expect_clean_failure(dir, {"config.json"});
}

TEST_F(MalformedInput, CorruptTokenizerJson) {
  const std::string dir = copy_model();
  io_test::write_bytes(dir + "/tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": 7}}");
  expect_clean_failure(dir, {"tokenizer.json"});
}

TEST_F(MalformedInput, MissingModelDirectory) {
  expect_clean_failure(work_.file("does-not-exist"), {"does-not-exist"});
}

TEST_F(MalformedInput, BadConvertArguments) {
  const RunResult r = run("convert --to-swiftkv --input " + base_->file("good") + " --output " +
                          work_.file("out") + " --num-kv-layers 9");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("num_key_value_layers"), std::string::npos) << r.output;
}

// Tensor parallelism is a CUDA feature: asking for it on the CPU is refused before loading.
TEST_F(MalformedInput, TensorParallelNeedsCuda) {
  const RunResult r = run("bench throughput --model " + base_->file("good") +
                          " --tensor-parallel-size 2 --input-len 8 --output-len 2 --num-prompts 1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--tensor-parallel-size needs --device cuda"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace swiftkv
