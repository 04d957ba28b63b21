// Checkpoint I/O on the real stories260K (../shared/models/stories260K, read in place): the
// llama2.c import, conversion to a Hugging Face directory, and conversion to SwiftKV with the
// initialisation of DESIGN.md §6.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "io_test_util.h"
#include "model/convert.h"
#include "model/llama2c.h"
#include "model/weight_store.h"

namespace swiftkv {
namespace {

using io_test::TempDir;

const std::string kBin = std::string(SWIFTKV_SHARED_DIR) + "/models/stories260K/stories260K.bin";

void expect_equal_f32(const Tensor& actual, const Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  const Tensor a = actual.to_f32();
  const Tensor e = expected.to_f32();
  EXPECT_EQ(std::memcmp(a.raw(), e.raw(), a.nbytes()), 0) << what;
}

TEST(Stories260K, ImportsLlama2cCheckpoint) {
  const Llama2cCheckpoint ckpt = import_llama2c(kBin);
  const ModelConfig& c = ckpt.config;
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(ckpt.tensors.size(), 1U + 9U * 5U + 1U);  // no lm_head: tied
  const WeightStore store = WeightStore::from_tensors(ckpt.tensors, kBin);
  const ModelWeights w = ModelWeights::from_store(c, store);  // checks every shape
  EXPECT_EQ(w.lm_head.raw(), w.embed_tokens.raw());
  EXPECT_EQ(w.layers[4].k_proj.shape(), (Shape{32, 64}));
  EXPECT_EQ(w.layers[4].down_proj.shape(), (Shape{64, 172}));

  // Q rows of layer 3 against the raw file: wq starts after the 7-int header, the embedding
  // and rms_att; HF row h*8 + r comes from llama2.c row h*8 + 2r (r < 4) or h*8 + 2(r-4) + 1.
  const auto file = MappedFile::open(kBin);
  const size_t wq_offset = 28 + 4 * (512 * 64 + 5 * 64 + 3 * 64 * 64);
  const auto raw_wq = [&](int64_t row, int64_t col) {
    float v = 0;
    std::memcpy(&v, file->data() + wq_offset + 4 * (row * 64 + col), 4);
    return v;
  };
  const float* q = w.layers[3].q_proj.data<const float>();
  for (int64_t h = 0; h < 8; ++h) {
    for (int64_t r = 0; r < 8; ++r) {
      const int64_t from = h * 8 + (r < 4 ? 2 * r : 2 * (r - 4) + 1);
      for (int64_t col = 0; col < 64; col += 7) {
        EXPECT_EQ(q[(h * 8 + r) * 64 + col], raw_wq(from, col)) << "head " << h << " row " << r;
      }
    }
  }
}

class Stories260KConverted : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    convert_llama2c_model(kBin, base_dir());
    io_test::write_bytes(base_dir() + "/tokenizer.json", R"({"model": {}})");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string base_dir() { return dir_->file("base"); }
  static std::string out_dir(const std::string& name) { return dir_->file(name); }

  static TempDir* dir_;
};

TempDir* Stories260KConverted::dir_ = nullptr;

TEST_F(Stories260KConverted, HuggingFaceDirectoryLoads) {
  const Llama2cCheckpoint ckpt = import_llama2c(kBin);
  const ModelConfig c = ModelConfig::load(base_dir());
  EXPECT_EQ(c, ckpt.config);
  const WeightStore store = WeightStore::open(base_dir());
  EXPECT_EQ(store.size(), ckpt.tensors.size());
  for (const auto& [name, tensor] : ckpt.tensors) {
    expect_equal_f32(store.get(name), tensor, name);
  }
  EXPECT_NO_THROW(ModelWeights::from_store(c, store));
}

TEST_F(Stories260KConverted, Bf16ConversionAndOverwrite) {
  const std::string out = out_dir("bf16");
  convert_llama2c_model(kBin, out, DType::kBF16);
  EXPECT_EQ(ModelConfig::load(out).dtype, DType::kBF16);
  const WeightStore store = WeightStore::open(out);
  const Tensor q = store.get("model.layers.1.self_attn.q_proj.weight");
  EXPECT_EQ(q.dtype(), DType::kBF16);
  expect_equal_f32(q,
                   WeightStore::open(base_dir())
                       .get("model.layers.1.self_attn.q_proj.weight")
                       .to_dtype(DType::kBF16),
                   "bf16 q_proj");
  EXPECT_ERROR_WITH(convert_llama2c_model(kBin, out), "is not empty");
  convert_llama2c_model(kBin, out, DType::kF32, /*overwrite=*/true);
  EXPECT_EQ(ModelConfig::load(out).dtype, DType::kF32);
}

// l = 2, G = 1: every later layer is its own leader; the init is an exact copy.
TEST_F(Stories260KConverted, SwiftKVWithoutGrouping) {
  const std::string out = out_dir("swiftkv_l2_g1");
  convert_to_swiftkv(base_dir(), out, /*num_kv_layers=*/2, /*group_size=*/1);
  const ModelConfig c = ModelConfig::load(out);
  EXPECT_EQ(c.architecture, Architecture::kLlamaSwiftKV);
  EXPECT_TRUE(c.is_swiftkv());
  EXPECT_EQ(c.num_key_value_layers, 2);
  EXPECT_EQ(c.key_value_group_size, 1);
  EXPECT_EQ(c.num_cache_layers(), 5);
  EXPECT_TRUE(std::filesystem::exists(out + "/tokenizer.json"));

  const WeightStore base = WeightStore::open(base_dir());
  const WeightStore store = WeightStore::open(out);
  EXPECT_EQ(store.size(), base.size() + 1 + 3 * 3);  // norm_swiftkv + q/k/v for layers 2..4
  for (const std::string& name : base.names()) {
    expect_equal_f32(store.get(name), base.get(name), name);
  }
  const ModelWeights w = ModelWeights::from_store(c, store);
  const ModelWeights b = ModelWeights::from_store(ModelConfig::load(base_dir()), base);
  expect_equal_f32(w.norm_swiftkv, b.layers[2].input_layernorm, "norm_swiftkv");
  for (size_t j = 2; j < 5; ++j) {
    expect_equal_f32(w.layers[j].q_proj_swiftkv, b.layers[j].q_proj, "q_proj_swiftkv");
    expect_equal_f32(w.layers[j].k_proj_swiftkv, b.layers[j].k_proj, "k_proj_swiftkv");
    expect_equal_f32(w.layers[j].v_proj_swiftkv, b.layers[j].v_proj, "v_proj_swiftkv");
  }
  EXPECT_FALSE(store.contains("model.layers.1.self_attn.q_proj_swiftkv.weight"));

  EXPECT_ERROR_WITH(convert_to_swiftkv(out, out_dir("twice"), 2, 1), "already a SwiftKV");
}

// l = 1, G = 2: leaders 1 and 3; each leader's k/v is the mean of its group's k/v_proj.
TEST_F(Stories260KConverted, SwiftKVWithGroupsOfTwo) {
  const std::string out = out_dir("swiftkv_l1_g2");
  convert_to_swiftkv(base_dir(), out, /*num_kv_layers=*/1, /*group_size=*/2);
  const ModelConfig c = ModelConfig::load(out);
  EXPECT_EQ(c.num_cache_layers(), 3);
  const WeightStore store = WeightStore::open(out);
  const WeightStore base = WeightStore::open(base_dir());
  EXPECT_EQ(store.size(), base.size() + 1 + 4 + 2 * 2);
  const ModelWeights w = ModelWeights::from_store(c, store);
  const ModelWeights b = ModelWeights::from_store(ModelConfig::load(base_dir()), base);
  expect_equal_f32(w.norm_swiftkv, b.layers[1].input_layernorm, "norm_swiftkv");
  EXPECT_FALSE(store.contains("model.layers.2.self_attn.k_proj_swiftkv.weight"));
  EXPECT_FALSE(store.contains("model.layers.4.self_attn.v_proj_swiftkv.weight"));
  for (size_t leader : {1, 3}) {
    for (const bool is_k : {true, false}) {
      const Tensor& got = is_k ? w.layers[leader].k_proj_swiftkv : w.layers[leader].v_proj_swiftkv;
      const Tensor& a = is_k ? b.layers[leader].k_proj : b.layers[leader].v_proj;
      const Tensor& z = is_k ? b.layers[leader + 1].k_proj : b.layers[leader + 1].v_proj;
      ASSERT_EQ(got.shape(), (Shape{32, 64}));
      for (int64_t i = 0; i < got.numel(); ++i) {
        const float mean = (a.data<const float>()[i] + z.data<const float>()[i]) / 2.0F;
        ASSERT_FLOAT_EQ(got.data<const float>()[i], mean) << "layer " << leader << " i " << i;
      }
    }
  }
  expect_equal_f32(w.layers[2].q_proj_swiftkv, b.layers[2].q_proj, "q_proj_swiftkv[2]");
}

TEST_F(Stories260KConverted, SwiftKVToBf16) {
  const std::string out = out_dir("swiftkv_bf16");
  convert_to_swiftkv(base_dir(), out, 2, 1, DType::kBF16);
  const ModelConfig c = ModelConfig::load(out);
  EXPECT_EQ(c.dtype, DType::kBF16);
  const WeightStore store = WeightStore::open(out);
  for (const std::string& name : store.names()) {
    EXPECT_EQ(store.get(name).dtype(), DType::kBF16) << name;
  }
  const auto json = nlohmann::json::parse(read_file(out + "/config.json"));
  EXPECT_EQ(json["torch_dtype"], "bfloat16");
}

TEST_F(Stories260KConverted, SwiftKVArgumentErrors) {
  EXPECT_ERROR_WITH(convert_to_swiftkv(base_dir(), out_dir("bad_g"), 2, 2),
                    "num_hidden_layers - num_key_value_layers (3) is not divisible by "
                    "key_value_group_size (2)");
  EXPECT_ERROR_WITH(convert_to_swiftkv(base_dir(), out_dir("bad_l"), 0, 1),
                    "field 'num_key_value_layers' must be in [1, 5]");
  EXPECT_FALSE(std::filesystem::exists(out_dir("bad_g")));  // nothing written on bad arguments
  EXPECT_ERROR_WITH(convert_to_swiftkv(base_dir(), base_dir(), 2, 1, std::nullopt, true),
                    "is the input directory");
  const std::string busy = out_dir("busy");
  std::filesystem::create_directories(busy);
  io_test::write_bytes(busy + "/notes.txt", "x");
  EXPECT_ERROR_WITH(convert_to_swiftkv(base_dir(), busy, 2, 1), "is not empty");
}

}  // namespace
}  // namespace swiftkv
