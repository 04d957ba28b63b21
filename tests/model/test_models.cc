#include "test_models.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "model/convert.h"
#include "model/loader.h"
#include "tokenizer/llama2c_converter.h"

namespace swiftkv::testing {
namespace {

namespace fs = std::filesystem;

const fs::path& temp_root() {
  static const fs::path root = [] {
    fs::path dir = fs::temp_directory_path() / ("swiftkv-model-test-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
  }();
  return root;
}

struct Cleanup {
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(temp_root(), ec);
  }
};

std::mutex g_mutex;

}  // namespace

const std::string& stories260k_dir() {
  static const std::string dir = [] {
    static Cleanup cleanup;
    const std::string shared = SWIFTKV_SHARED_DIR;
    const std::string out = (temp_root() / "stories260K").string();
    convert_llama2c_model(shared + "/models/stories260K/stories260K.bin", out, DType::kF32);
    write_hf_tokenizer_files(shared + "/models/stories260K/tok512.bin", out);
    return out;
  }();
  return dir;
}

std::string stories260k_swiftkv_dir(int64_t num_kv_layers, int64_t group_size) {
  const std::lock_guard lock(g_mutex);
  static std::map<std::pair<int64_t, int64_t>, std::string> converted;
  auto& dir = converted[{num_kv_layers, group_size}];
  if (dir.empty()) {
    const std::string out =
        (temp_root() / ("stories260K-swiftkv-l" + std::to_string(num_kv_layers) + "-g" +
                        std::to_string(group_size)))
            .string();
    convert_to_swiftkv(stories260k_dir(), out, num_kv_layers, group_size, std::nullopt);
    dir = out;
  }
  return dir;
}

std::vector<int32_t> stories260k_expected_greedy() {
  const auto json = nlohmann::json::parse(read_file(
      std::string(SWIFTKV_SHARED_DIR) + "/models/stories260K/expected_greedy_bos_256.json"));
  return json.at("sampled_ids").get<std::vector<int32_t>>();
}

std::unique_ptr<LlamaModel> load(const std::string& dir, SwiftKVMode mode) {
  LoadOptions options;
  options.mode = mode;
  return load_model(dir, options);
}

double max_relative_error(const Tensor& actual, const Tensor& expected) {
  SWIFTKV_CHECK(actual.shape() == expected.shape(), shape_str(actual.shape()), " vs ",
                shape_str(expected.shape()));
  double max_diff = 0.0;
  double max_ref = 0.0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const double a = actual.data<const float>()[i];
    const double e = expected.data<const float>()[i];
    max_diff = std::max(max_diff, std::abs(a - e));
    max_ref = std::max(max_ref, std::abs(e));
  }
  return max_ref == 0.0 ? max_diff : max_diff / max_ref;
}

}  // namespace swiftkv::testing
