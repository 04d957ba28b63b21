// Safetensors reader/writer and WeightStore: round trips (F32/BF16/F16, single and sharded),
// and every malformed-file case giving an Error with the right message and no crash.
#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io_test_util.h"
#include "model/weight_store.h"

namespace swiftkv {
namespace {

using io_test::TempDir;

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (size_t i = 0; i < 8; ++i) {
    s[i] = static_cast<char>((v >> (8 * i)) & 0xffU);
  }
  return s;
}

// A safetensors file from a raw header text and data bytes.
std::string raw_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

Tensor arange(Shape shape, DType dtype, float start = 0.0F) {
  std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = start + 0.5F * static_cast<float>(i);
  }
  return Tensor::from_f32(std::move(shape), values).to_dtype(dtype);
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
}

TEST(Safetensors, RoundTripsMixedDtypes) {
  TempDir dir;
  const NamedTensors tensors = {{"b.half", arange({3, 1}, DType::kF16, 1.0F)},
                                {"a.bf16", arange({5}, DType::kBF16, -2.0F)},
                                {"z.f32", arange({2, 3}, DType::kF32, 0.25F)},
                                {"empty", Tensor::zeros({0, 4}, DType::kF32)}};
  const std::string path = dir.file("x.safetensors");
  write_safetensors(path, tensors, {{"format", "pt"}});

  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  // Written in the reference order: element size descending, then name.
  EXPECT_EQ(file.names(), (std::vector<std::string>{"empty", "z.f32", "a.bf16", "b.half"}));
  for (const auto& [name, tensor] : tensors) {
    const Tensor read = file.get(name);
    expect_same(read, tensor);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(read.raw()) % dtype_size(read.dtype()), 0U) << name;
  }
  // The header is padded with spaces so the data region starts 8-byte aligned.
  const std::string bytes = io_test::read_bytes(path);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ(header_len % 8, 0U);
  EXPECT_EQ(nlohmann::json::parse(bytes.substr(8, header_len))["z.f32"]["dtype"], "F32");
}

TEST(Safetensors, TensorsOutliveTheFileObject) {
  TempDir dir;
  write_safetensors(dir.file("x.safetensors"), {{"w", arange({4}, DType::kF32)}});
  Tensor w;
  {
    const SafetensorsFile file = SafetensorsFile::open(dir.file("x.safetensors"));
    w = file.get("w");
  }
  EXPECT_EQ(w.data<const float>()[3], 1.5F);
}

TEST(Safetensors, ShardedRoundTripWithIndex) {
  TempDir dir;
  NamedTensors tensors;
  float start = 0.0F;
  for (const char* name : {"t0", "t1", "t2", "t3", "t4"}) {
    tensors.emplace_back(name, arange({100}, DType::kF32, start));
    start += 10.0F;
  }
  const auto files = save_checkpoint_tensors(dir.path(), tensors, /*max_shard_bytes=*/900);
  EXPECT_EQ(files, (std::vector<std::string>{
                       "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                       "model-00003-of-00003.safetensors", "model.safetensors.index.json"}));
  const auto index =
      nlohmann::json::parse(io_test::read_bytes(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(index["metadata"]["total_size"], 2000);
  EXPECT_EQ(index["weight_map"]["t2"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["t4"], "model-00003-of-00003.safetensors");
  const WeightStore store = WeightStore::open(dir.path());
  EXPECT_EQ(store.size(), 5U);
  for (const auto& [name, tensor] : tensors) {
    expect_same(store.get(name), tensor);
  }
  EXPECT_ERROR_WITH(store.get("model.norm.weight"),
                    "missing tensor 'model.norm.weight' in " + dir.path());

  // Saving again as one file removes the shards and the index.
  EXPECT_EQ(save_checkpoint_tensors(dir.path(), tensors),
            (std::vector<std::string>{"model.safetensors"}));
  EXPECT_FALSE(std::filesystem::exists(dir.file("model-00001-of-00003.safetensors")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(WeightStore::open(dir.path()).names(),
            (std::vector<std::string>{"t0", "t1", "t2", "t3", "t4"}));
}

TEST(Safetensors, IndexNamingATensorMissingFromItsShard) {
  TempDir dir;
  save_checkpoint_tensors(dir.path(),
                          {{"a", arange({100}, DType::kF32)}, {"b", arange({100}, DType::kF32)}},
                          /*max_shard_bytes=*/400);
  auto index = nlohmann::json::parse(io_test::read_bytes(dir.file("model.safetensors.index.json")));
  index["weight_map"]["ghost"] = "model-00001-of-00002.safetensors";
  io_test::write_bytes(dir.file("model.safetensors.index.json"), index.dump());
  EXPECT_ERROR_WITH(WeightStore::open(dir.path()),
                    "tensor 'ghost' is listed in shard model-00001-of-00002.safetensors but "
                    "missing from it");
  index["weight_map"]["ghost"] = "../escape.safetensors";
  io_test::write_bytes(dir.file("model.safetensors.index.json"), index.dump());
  EXPECT_ERROR_WITH(WeightStore::open(dir.path()), "invalid shard file name");
  index["weight_map"].erase("ghost");
  index["weight_map"]["b"] = "model-00009-of-00009.safetensors";
  io_test::write_bytes(dir.file("model.safetensors.index.json"), index.dump());
  EXPECT_ERROR_WITH(WeightStore::open(dir.path()), "cannot open");
}

TEST(Safetensors, EmptyDirectoryHasNoCheckpoint) {
  TempDir dir;
  EXPECT_ERROR_WITH(WeightStore::open(dir.path()), "no model.safetensors");
}

TEST(Safetensors, MisalignedTensorIsCopied) {
  TempDir dir;
  // An F16 [1] then an F32 [1] at data offset 2: legal, but not 4-byte aligned.
  const float value = 3.25F;
  std::string data(6, '\0');
  std::memcpy(data.data() + 2, &value, 4);
  const std::string header = R"({"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                             R"("f":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})";
  io_test::write_bytes(dir.file("x.safetensors"), raw_file(header, data));
  const SafetensorsFile file = SafetensorsFile::open(dir.file("x.safetensors"));
  const Tensor f = file.get("f");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.raw()) % 4, 0U);
  EXPECT_EQ(f.data<const float>()[0], value);
}

// ---- malformed files -------------------------------------------------------------------------

class MalformedSafetensors : public ::testing::Test {
 protected:
  // Writes `bytes` and expects open() to fail with `fragment` in the message.
  void expect_open_error(const std::string& bytes, const std::string& fragment) {
    io_test::write_bytes(path_, bytes);
    EXPECT_ERROR_WITH(SafetensorsFile::open(path_), fragment);
  }
  static std::string one_tensor(const std::string& entry, size_t data_bytes) {
    return raw_file(R"({"w":)" + entry + "}", std::string(data_bytes, '\0'));
  }

  TempDir dir_;
  std::string path_ = dir_.file("bad.safetensors");
};

TEST_F(MalformedSafetensors, TruncatedHeaderLength) {
  expect_open_error("abc", "file of 3 bytes is too small");
  expect_open_error("", "file of 0 bytes is too small");
}

TEST_F(MalformedSafetensors, HeaderLengthLargerThanFile) {
  expect_open_error(le64(1000) + "{}", "header length 1000 exceeds file size 10");
  expect_open_error(le64(~0ULL) + "{}", "exceeds file size 10");
}

TEST_F(MalformedSafetensors, HeaderLengthOverLimit) {
  const uint64_t header_len = kMaxSafetensorsHeaderBytes + 8;
  io_test::write_bytes(path_, le64(header_len));
  std::filesystem::resize_file(path_, header_len + 64);  // sparse: no real disk use
  EXPECT_ERROR_WITH(SafetensorsFile::open(path_), "exceeds the limit of 104857600 bytes");
}

TEST_F(MalformedSafetensors, HeaderNotJson) {
  expect_open_error(raw_file("{\"w\": [1, 2", ""), "header is not valid JSON");
  expect_open_error(raw_file("[1, 2]", ""), "header must be a JSON object");
}

TEST_F(MalformedSafetensors, OffsetsOutsideData) {
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})", 8),
                    "tensor 'w' has data_offsets [0,16] outside the data region of 8 bytes");
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[0],"data_offsets":[8,4]})", 8),
                    "outside the data region");
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 8),
                    "outside the data region");
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 8),
                    "invalid data_offsets");
}

TEST_F(MalformedSafetensors, SizeMismatchWithShape) {
  expect_open_error(one_tensor(R"({"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]})", 8),
                    "tensor 'w' has 8 bytes in data_offsets but shape [2, 3] of BF16 needs 12");
  expect_open_error(
      one_tensor(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})", 8),
      "overflows");
}

TEST_F(MalformedSafetensors, UnsupportedDtype) {
  expect_open_error(one_tensor(R"({"dtype":"I64","shape":[1],"data_offsets":[0,8]})", 8),
                    "tensor 'w' has unsupported dtype I64 (supported: F32, BF16, F16)");
  expect_open_error(one_tensor(R"({"dtype":7,"shape":[1],"data_offsets":[0,8]})", 8),
                    "non-string dtype");
}

TEST_F(MalformedSafetensors, NegativeShape) {
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]})", 8),
                    "tensor 'w' has invalid shape [-1,2]");
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,8]})", 8),
                    "invalid shape");
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})", 8),
                    "invalid shape");
}

TEST_F(MalformedSafetensors, BadEntriesAndMetadata) {
  expect_open_error(one_tensor(R"([1])", 0), "entry must be an object");
  expect_open_error(one_tensor(R"({"dtype":"F32","shape":[1]})", 0),
                    "needs dtype, shape and data_offsets");
  expect_open_error(raw_file(R"({"__metadata__":{"format":1}})", ""),
                    "__metadata__ entry 'format' must be a string");
}

TEST_F(MalformedSafetensors, MissingTensor) {
  write_safetensors(path_, {{"w", arange({2}, DType::kF32)}});
  const SafetensorsFile file = SafetensorsFile::open(path_);
  EXPECT_ERROR_WITH(file.get("v"), "missing tensor 'v' in " + path_);
}

TEST(SafetensorsWriter, RejectsBadInput) {
  TempDir dir;
  const Tensor t = arange({2}, DType::kF32);
  EXPECT_ERROR_WITH(write_safetensors(dir.file("x"), {{"a", t}, {"a", t}}),
                    "duplicate tensor name 'a'");
  EXPECT_ERROR_WITH(write_safetensors(dir.file("x"), {{"ids", Tensor::from_i32({1}, {7})}}),
                    "tensor 'ids' has dtype i32");
  EXPECT_ERROR_WITH(save_checkpoint_tensors(dir.file("nowhere"), {{"a", t}}), "not a directory");
}

}  // namespace
}  // namespace swiftkv
