// llama2.c checkpoint importer (contract in llama2c.h).
#include "model/llama2c.h"

#include <cstring>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/tensor_names.h"

namespace swiftkv {
namespace {

constexpr size_t kHeaderInts = 7;

// Sequential reader of f32 arrays from the mapped file (bounds were checked up front).
class FloatCursor {
 public:
  FloatCursor(const unsigned char* data, size_t offset) : data_(data), offset_(offset) {}

  Tensor take(Shape shape) {
    Tensor t = Tensor::empty(std::move(shape), DType::kF32);
    if (t.nbytes() > 0) {
      std::memcpy(t.raw(), data_ + offset_, t.nbytes());
    }
    offset_ += t.nbytes();
    return t;
  }
  void skip(int64_t num_floats) { offset_ += static_cast<size_t>(num_floats) * sizeof(float); }

 private:
  const unsigned char* data_;
  size_t offset_;
};

}  // namespace

Tensor permute_rotary_rows(const Tensor& w, int64_t num_heads) {
  SWIFTKV_CHECK(
      w.dtype() == DType::kF32 && w.rank() == 2 && num_heads > 0 && w.dim(0) % (2 * num_heads) == 0,
      "permute_rotary_rows of ", shape_str(w.shape()), " ", dtype_name(w.dtype()),
      " with num_heads=", num_heads);
  const int64_t head_dim = w.dim(0) / num_heads;
  const int64_t half = head_dim / 2;
  const int64_t cols = w.dim(1);
  Tensor out = Tensor::empty(w.shape(), DType::kF32);
  const float* src = w.data<const float>();
  float* dst = out.data<float>();
  for (int64_t h = 0; h < num_heads; ++h) {
    for (int64_t r = 0; r < half; ++r) {
      for (int64_t pair = 0; pair < 2; ++pair) {
        const int64_t from = h * head_dim + 2 * r + pair;
        const int64_t to = h * head_dim + pair * half + r;
        std::memcpy(dst + to * cols, src + from * cols, static_cast<size_t>(cols) * sizeof(float));
      }
    }
  }
  return out;
}

Llama2cCheckpoint import_llama2c(const std::string& bin_path) {
  const auto file = MappedFile::open(bin_path);
  if (file->size() < kHeaderInts * sizeof(int32_t)) {
    throw Error(
        str_cat(bin_path, ": file of ", file->size(), " bytes is too small for a llama2.c header"));
  }
  int32_t header[kHeaderInts];
  std::memcpy(header, file->data(), sizeof(header));
  const int64_t dim = header[0];
  const int64_t hidden_dim = header[1];
  const int64_t n_layers = header[2];
  const int64_t n_heads = header[3];
  const int64_t n_kv_heads = header[4];
  const bool tied = header[5] > 0;
  const int64_t vocab = header[5] < 0 ? -static_cast<int64_t>(header[5]) : header[5];
  const int64_t seq_len = header[6];
  const std::string header_str =
      str_cat("dim=", dim, " hidden_dim=", hidden_dim, " n_layers=", n_layers, " n_heads=", n_heads,
              " n_kv_heads=", n_kv_heads, " vocab_size=", header[5], " seq_len=", seq_len);
  if (dim <= 0 || hidden_dim <= 0 || n_layers <= 0 || n_heads <= 0 || n_kv_heads <= 0 ||
      vocab <= 0 || seq_len <= 0 || dim % n_heads != 0 || n_heads % n_kv_heads != 0 ||
      (dim / n_heads) % 2 != 0) {
    throw Error(str_cat(bin_path, ": invalid llama2.c header (", header_str, ")"));
  }
  const int64_t head_dim = dim / n_heads;
  const int64_t kv_dim = n_kv_heads * head_dim;

  // Expected file size. Header values are < 2^31, so 128-bit arithmetic cannot overflow.
  using Wide = __int128;
  const Wide layer_floats =
      Wide{2} * dim + Wide{2} * dim * dim + Wide{2} * kv_dim * dim + Wide{3} * hidden_dim * dim;
  const Wide num_floats = Wide{vocab} * dim * (tied ? 1 : 2) + Wide{n_layers} * layer_floats + dim +
                          Wide{seq_len} * head_dim;  // freq_cis: 2 x [seq_len, head_dim/2]
  const Wide expected = Wide{sizeof(header)} + num_floats * Wide{sizeof(float)};
  if (static_cast<Wide>(file->size()) != expected) {
    throw Error(str_cat(bin_path, ": file size ", file->size(),
                        " does not match the llama2.c header (", header_str, "), which needs ",
                        expected < (Wide{1} << 62) ? std::to_string(static_cast<int64_t>(expected))
                                                   : std::string("over 2^62"),
                        " bytes"));
  }

  Llama2cCheckpoint out;
  ModelConfig& c = out.config;
  c.architecture = Architecture::kLlama;
  c.vocab_size = vocab;
  c.hidden_size = dim;
  c.intermediate_size = hidden_dim;
  c.num_hidden_layers = n_layers;
  c.num_attention_heads = n_heads;
  c.num_key_value_heads = n_kv_heads;
  c.head_dim = head_dim;
  c.max_position_embeddings = seq_len;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = tied;
  c.bos_token_ids = {1};
  c.eos_token_ids = {2};
  c.dtype = DType::kF32;
  c.num_key_value_layers = n_layers;
  c.key_value_group_size = 1;
  c.validate(bin_path);

  namespace names = tensor_names;
  FloatCursor cursor(file->data(), sizeof(header));
  NamedTensors& t = out.tensors;
  t.emplace_back(names::kEmbedTokens, cursor.take({vocab, dim}));
  // Each weight kind is stored for all layers before the next kind; collect per layer.
  const auto per_layer = [&](std::string_view suffix, const Shape& shape, int64_t permute_heads) {
    for (int64_t j = 0; j < n_layers; ++j) {
      Tensor w = cursor.take(shape);
      if (permute_heads > 0) {
        w = permute_rotary_rows(w, permute_heads);
      }
      t.emplace_back(names::layer(j, suffix), std::move(w));
    }
  };
  per_layer(names::kInputLayernorm, {dim}, 0);
  per_layer(names::kQProj, {dim, dim}, n_heads);
  per_layer(names::kKProj, {kv_dim, dim}, n_kv_heads);
  per_layer(names::kVProj, {kv_dim, dim}, 0);
  per_layer(names::kOProj, {dim, dim}, 0);
  per_layer(names::kPostAttentionLayernorm, {dim}, 0);
  per_layer(names::kGateProj, {hidden_dim, dim}, 0);  // w1
  per_layer(names::kDownProj, {dim, hidden_dim}, 0);  // w2
  per_layer(names::kUpProj, {hidden_dim, dim}, 0);    // w3
  t.emplace_back(names::kNorm, cursor.take({dim}));
  cursor.skip(seq_len * head_dim);  // freq_cis_real, freq_cis_imag: [seq_len, head_dim / 2] each
  if (!tied) {
    t.emplace_back(names::kLmHead, cursor.take({vocab, dim}));
  }
  return out;
}

}  // namespace swiftkv
