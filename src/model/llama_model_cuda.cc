#include "model/llama_model_cuda.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <utility>

#include "core/error.h"
#include "model/rope_frequencies.h"
#include "model/tensor_names.h"
#include "ops/ops.h"

namespace swiftkv {
namespace {

namespace names = tensor_names;

// A [rows, cols] view at the start of a flat device buffer.
Tensor view(const Tensor& flat, int64_t rows, int64_t cols) {
  return flat.rows(0, rows * cols).reshape({rows, cols});
}

int64_t pad_to_power_of_two(int64_t n) {
  int64_t p = 1;
  while (p < n) {
    p *= 2;
  }
  return p;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The random stream of one named tensor: FNV-1a of the name, mixed with the model seed.
uint64_t tensor_seed(uint64_t seed, const std::string& name) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : name) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  return splitmix64(seed ^ hash);
}

// One weight tensor's place on the device: the block [row0, row0 + dst rows) x [col0, col0 +
// dst cols) of the named [full_rows, full_cols] tensor (the whole tensor, or this rank's slice
// under tensor parallelism) goes to dst, a row range of a (possibly concatenated) tensor.
// The fused gate-up weight [2 inter, hidden] with interleaved rows (gate j, up j) seen as
// [inter, 2 hidden]: gate rows in columns [0, hidden), up rows in [hidden, 2 hidden).
Tensor gate_up_pairs(const Tensor& gate_up_proj) {
  return gate_up_proj.reshape({gate_up_proj.dim(0) / 2, 2 * gate_up_proj.dim(1)});
}

struct WeightPart {
  Tensor dst;  // [rows, dst columns]; the part fills columns [dst_col0, dst_col0 + cols)
  std::string name;
  const Tensor* host = nullptr;  // the source when uploading
  bool is_norm = false;
  int64_t full_rows = 0;
  int64_t full_cols = 0;
  int64_t row0 = 0;
  int64_t col0 = 0;
  int64_t dst_col0 = 0;
  int64_t cols = 0;
};

// Sizes of one step's metadata; the device layouts (and so the graphs) depend on them only.
//   A: token_ids[rows_a] positions[rows_a] slot_mapping[rows_a] query_start_loc[seqs_a + 1]
//      kv_lens[seqs_a] block_tables[seqs_a * table_width]
//   B: selected[rows_b] positions[rows_b] query_start_loc[seqs_b + 1] kv_lens[seqs_b]
//      block_tables[seqs_b * table_width]
int64_t layout_a_size(int64_t rows, int64_t seqs, int64_t width) {
  return 3 * rows + (seqs + 1) + seqs + seqs * width;
}
int64_t layout_b_size(int64_t rows, int64_t seqs, int64_t width) {
  return 2 * rows + (seqs + 1) + seqs + seqs * width;
}

// Consecutive views of a metadata buffer, in the order the layouts above list them.
class MetadataCursor {
 public:
  explicit MetadataCursor(const Tensor& buffer) : buffer_(buffer) {}

  Tensor take(int64_t n) {
    Tensor t = buffer_.rows(offset_, offset_ + n);
    offset_ += n;
    return t;
  }
  // query_start_loc, kv_lens and block_tables of `num_seqs` sequences, as both layouts end.
  ops::AttentionMetadata take_attention(int64_t num_seqs, int64_t table_width,
                                        int64_t max_query_len) {
    ops::AttentionMetadata attention;
    attention.query_start_loc = take(num_seqs + 1);
    attention.kv_lens = take(num_seqs);
    attention.block_tables = take(num_seqs * table_width).reshape({num_seqs, table_width});
    attention.max_query_len = max_query_len;
    return attention;
  }

 private:
  const Tensor& buffer_;
  int64_t offset_ = 0;
};

}  // namespace

struct CudaLlamaModel::StepShape {
  int64_t rows_a = 0;
  int64_t seqs_a = 0;
  int64_t rows_b = 0;
  int64_t seqs_b = 0;
  int64_t table_width = 0;
};

struct CudaLlamaModel::HostStep {
  StepShape shape;
  int64_t num_tokens = 0;
  int64_t num_selected = 0;
  int64_t max_query_len_a = 0;
  // Phase A's leading sequences of <= kDecodeMaxQueryLen rows (the scheduler puts decodes
  // first), and their rows: ops::AttentionMetadata's split hint.
  int64_t num_decode_seqs_a = 0;
  int64_t num_decode_tokens_a = 0;
  int64_t max_query_len_b = 0;
  bool whole_step_graph = false;  // decode-only: the whole step is one graph, rows B == rows A
  bool phase_b_graph = false;
  std::vector<int32_t> a;
  std::vector<int32_t> b;
  std::vector<int32_t> token_source_rows;  // BatchView::token_source_rows, checked
};

struct CudaLlamaModel::Rows {
  int64_t num_rows = 0;
  Tensor residual;   // [num_rows, hidden_size]
  Tensor block_out;  // [num_rows, hidden_size]
  Tensor token_ids;  // Phase A
  Tensor positions;
  Tensor slot_mapping;  // Phase A
  Tensor selected;      // Phase B: rows of Phase A
  ops::AttentionMetadata attention;
};

namespace {

// Whether ops::decode_linear takes every projection of a decoder layer (and SwiftKV's).
bool decode_linear_takes_layers(const ops::Context& ctx, const ModelConfig& c) {
  const int64_t hidden = c.hidden_size;
  const int64_t q_width = c.num_attention_heads * c.head_dim;
  const int64_t kv_width = c.num_key_value_heads * c.head_dim;
  const auto takes = [&](int64_t n, int64_t k) { return ops::decode_linear_supported(ctx, n, k); };
  return takes(q_width + 2 * kv_width, hidden) && takes(hidden, q_width) &&
         takes(2 * c.intermediate_size, hidden) && takes(hidden, c.intermediate_size) &&
         (!c.is_swiftkv() ||
          (takes(q_width, hidden) && takes(c.num_swiftkv_leaders() * 2 * kv_width, hidden)));
}

}  // namespace

CudaLlamaModel::CudaLlamaModel(const ops::Context& ctx, ModelConfig config, SwiftKVMode mode,
                               const CudaModelOptions& options)
    : config_(std::move(config)),
      shard_(TensorParallelShard::of(
          config_, options.tensor_parallel != nullptr ? options.tensor_parallel->rank() : 0,
          options.tensor_parallel != nullptr ? options.tensor_parallel->size() : 1)),
      local_(shard_.local_config(config_)),
      mode_(mode),
      swiftkv_active_(config_.is_swiftkv() && mode != SwiftKVMode::kOff),
      options_(options) {
  SWIFTKV_CHECK(ctx.backend == ops::Backend::kCuda, "CudaLlamaModel needs a kCuda context");
  if (options_.dtype != DType::kBF16 && options_.dtype != DType::kF32) {
    throw Error(str_cat("the CUDA model runs in bf16 or f32, not ", dtype_name(options_.dtype)));
  }
  if (options_.tensor_parallel != nullptr && !options_.tensor_parallel->supports_graphs()) {
    options_.cuda_graphs = false;
  }
  const DType cache_dtype = options_.kv_cache_dtype.value_or(options_.dtype);
  if (cache_dtype != options_.dtype &&
      !(cache_dtype == DType::kF8E4M3 && options_.dtype == DType::kBF16)) {
    throw Error(str_cat(
        "KV cache dtype ", dtype_name(cache_dtype), " (--kv-cache-dtype) needs ",
        cache_dtype == DType::kF8E4M3 ? "the bf16 CUDA model" : "a CUDA model of that dtype",
        "; this one runs in ", dtype_name(options_.dtype)));
  }
  options_.kv_cache_dtype = cache_dtype;
  options_.one_token_fusion = options_.one_token_fusion && options_.dtype == DType::kBF16 &&
                              shard_.size == 1 && decode_linear_takes_layers(ctx, config_);
  lm_head_fusion_ = options_.one_token_fusion &&
                    ops::decode_linear_supported(ctx, config_.vocab_size, config_.hidden_size);
  options_.max_num_logits = std::min(options_.max_num_logits, options_.max_num_batched_tokens);
  options_.max_num_seqs = std::min(options_.max_num_seqs, options_.max_num_batched_tokens);
  // Graph batches are padded to powers of two: the largest must fit every buffer.
  const int64_t graph_limit =
      std::min({options_.max_graph_batch, options_.max_num_logits, options_.max_num_seqs});
  options_.max_graph_batch = graph_limit >= 1 ? pad_to_power_of_two(graph_limit + 1) / 2 : 0;
  SWIFTKV_CHECK(options_.max_num_batched_tokens > 0 && options_.max_num_logits > 0 &&
                    options_.max_num_seqs > 0 && options_.max_model_len > 0,
                "bad CudaModelOptions: tokens ", options_.max_num_batched_tokens, ", logits ",
                options_.max_num_logits, ", seqs ", options_.max_num_seqs, ", model_len ",
                options_.max_model_len);
  const std::vector<float> inv_freq = rope_inv_freq(config_);
  inv_freq_ =
      ops::to_device(ctx, Tensor::from_f32({static_cast<int64_t>(inv_freq.size())}, inv_freq));
}

CudaLlamaModel::~CudaLlamaModel() = default;

int64_t CudaLlamaModel::num_cache_layers() const {
  return swiftkv_active_ ? config_.num_cache_layers() : config_.num_hidden_layers;
}

int64_t CudaLlamaModel::cache_layer_of(int64_t layer) const {
  return swiftkv_active_ ? config_.cache_layer_of(layer) : layer;
}

KvCacheShape CudaLlamaModel::cache_shape(int64_t num_blocks, int64_t block_size) const {
  return KvCacheShape{.num_cache_layers = num_cache_layers(),
                      .num_blocks = num_blocks,
                      .block_size = block_size,
                      .num_kv_heads = local_.num_key_value_heads,
                      .head_dim = config_.head_dim,
                      .dtype = kv_cache_dtype()};
}

// ---- weights -------------------------------------------------------------------------------

namespace {

// Allocates the device weights of `config` into the given members and lists where each named
// tensor goes. `host` (may be null) supplies the upload sources.
struct DeviceWeightsBuilder {
  const ops::Context& ctx;
  const ModelConfig& config;
  const ModelWeights* host;
  DType dtype;
  std::vector<WeightPart> parts;

  Tensor alloc(Shape shape) { return ops::device_empty(ctx, std::move(shape), dtype); }
  // The whole named tensor into dst.
  void add(const Tensor& dst, std::string name, const Tensor* source, bool is_norm = false) {
    const int64_t rows = dst.rank() == 1 ? 1 : dst.dim(0);
    add_block(dst, std::move(name), source, {rows, dst.numel() / std::max<int64_t>(rows, 1)}, 0, 0,
              is_norm);
  }
  // The block of the named `full`-shaped tensor at (row0, col0) with dst's shape into dst.
  void add_block(const Tensor& dst, std::string name, const Tensor* source,
                 std::pair<int64_t, int64_t> full, int64_t row0, int64_t col0,
                 bool is_norm = false) {
    SWIFTKV_CHECK(host == nullptr || (source != nullptr && source->defined() &&
                                      source->numel() == full.first * full.second),
                  "weight ", name, " missing or mis-shaped for the upload");
    const int64_t rows = dst.rank() == 1 ? 1 : dst.dim(0);
    const int64_t cols = dst.numel() / std::max<int64_t>(rows, 1);
    parts.push_back({dst.reshape({rows, cols}), std::move(name), source, is_norm, full.first,
                     full.second, row0, col0, 0, cols});
  }
  // The same into columns [dst_col0, dst_col0 + cols) of the 2-D dst.
  void add_columns(const Tensor& dst, int64_t dst_col0, int64_t cols, std::string name,
                   const Tensor* source, std::pair<int64_t, int64_t> full, int64_t row0) {
    add_block(dst.rows(0, dst.dim(0)), std::move(name), source, full, row0, 0);
    parts.back().dst_col0 = dst_col0;
    parts.back().cols = cols;
  }
};

}  // namespace

std::unique_ptr<CudaLlamaModel> CudaLlamaModel::upload(const ops::Context& ctx, ModelConfig config,
                                                       const ModelWeights& weights,
                                                       SwiftKVMode mode,
                                                       const CudaModelOptions& options) {
  std::unique_ptr<CudaLlamaModel> model(new CudaLlamaModel(ctx, std::move(config), mode, options));
  model->allocate_weights(ctx, &weights, 0);
  model->allocate_buffers(ctx);
  return model;
}

std::unique_ptr<CudaLlamaModel> CudaLlamaModel::random(const ops::Context& ctx, ModelConfig config,
                                                       uint64_t seed, SwiftKVMode mode,
                                                       const CudaModelOptions& options) {
  std::unique_ptr<CudaLlamaModel> model(new CudaLlamaModel(ctx, std::move(config), mode, options));
  model->allocate_weights(ctx, nullptr, seed);
  model->allocate_buffers(ctx);
  return model;
}

void CudaLlamaModel::allocate_weights(const ops::Context& ctx, const ModelWeights* host,
                                      uint64_t seed) {
  const ModelConfig& c = config_;
  const TensorParallelShard& sh = shard_;
  const int64_t hidden = c.hidden_size;
  const int64_t hd = c.head_dim;
  // The rank's widths (the whole model's when alone) and where its slices start.
  const int64_t q_width = local_.num_attention_heads * hd;
  const int64_t kv_width = local_.num_key_value_heads * hd;
  const int64_t inter = local_.intermediate_size;
  const int64_t q0 = sh.first_head * hd;
  const int64_t kv0 = sh.first_kv_head * hd;
  const int64_t i0 = sh.first_intermediate;
  const std::pair<int64_t, int64_t> q_full{c.num_attention_heads * hd, hidden};
  const std::pair<int64_t, int64_t> kv_full{c.num_key_value_heads * hd, hidden};
  const std::pair<int64_t, int64_t> vocab_full{c.vocab_size, hidden};
  DeviceWeightsBuilder b{ctx, c, host, options_.dtype, {}};
  const auto src = [&](auto member) -> const Tensor* {
    return host == nullptr ? nullptr : &(host->*member);
  };

  // Vocabulary rows [vocab_begin, vocab_end) of a shard of vocab_shard_rows rows (the rest of
  // the last shard stays zero).
  const int64_t vocab_rows = sh.vocab_end - sh.vocab_begin;
  const auto vocab_shard = [&](Tensor& dst, std::string name, const Tensor* source) {
    dst = b.alloc({sh.vocab_shard_rows, hidden});
    if (vocab_rows < sh.vocab_shard_rows) {
      ops::fill_zero(ctx, dst);
    }
    b.add_block(dst.rows(0, vocab_rows), std::move(name), source, vocab_full, sh.vocab_begin, 0);
  };
  vocab_shard(embed_tokens_, std::string(names::kEmbedTokens), src(&ModelWeights::embed_tokens));
  norm_ = b.alloc({hidden});
  b.add(norm_, std::string(names::kNorm), src(&ModelWeights::norm), true);
  if (c.tie_word_embeddings) {
    lm_head_ = embed_tokens_;
  } else {
    vocab_shard(lm_head_, std::string(names::kLmHead), src(&ModelWeights::lm_head));
  }
  if (c.is_swiftkv()) {
    norm_swiftkv_ = b.alloc({hidden});
    b.add(norm_swiftkv_, std::string(names::kNormSwiftKV), src(&ModelWeights::norm_swiftkv), true);
    kv_proj_swiftkv_ = b.alloc({c.num_swiftkv_leaders() * 2 * kv_width, hidden});
  }
  int64_t leader = 0;
  for (int64_t j = 0; j < c.num_hidden_layers; ++j) {
    const LayerWeights* lw = host == nullptr ? nullptr : &host->layers[static_cast<size_t>(j)];
    const auto lsrc = [&](Tensor LayerWeights::*member) -> const Tensor* {
      return lw == nullptr ? nullptr : &(lw->*member);
    };
    DeviceLayer d;
    d.input_layernorm = b.alloc({hidden});
    b.add(d.input_layernorm, names::layer(j, names::kInputLayernorm),
          lsrc(&LayerWeights::input_layernorm), true);
    d.post_attention_layernorm = b.alloc({hidden});
    b.add(d.post_attention_layernorm, names::layer(j, names::kPostAttentionLayernorm),
          lsrc(&LayerWeights::post_attention_layernorm), true);
    // Column-parallel: this rank's query heads, K/V heads and intermediate features.
    d.qkv_proj = b.alloc({q_width + 2 * kv_width, hidden});
    b.add_block(d.qkv_proj.rows(0, q_width), names::layer(j, names::kQProj),
                lsrc(&LayerWeights::q_proj), q_full, q0, 0);
    b.add_block(d.qkv_proj.rows(q_width, q_width + kv_width), names::layer(j, names::kKProj),
                lsrc(&LayerWeights::k_proj), kv_full, kv0, 0);
    b.add_block(d.qkv_proj.rows(q_width + kv_width, q_width + 2 * kv_width),
                names::layer(j, names::kVProj), lsrc(&LayerWeights::v_proj), kv_full, kv0, 0);
    // Rows interleaved, gate j then up j (gate_up_pairs), so a one-row step's gate-up
    // projection streams whole pairs and applies the SwiGLU itself (decode_linear's swiglu).
    d.gate_up_proj = b.alloc({2 * inter, hidden});
    const Tensor pairs = gate_up_pairs(d.gate_up_proj);
    b.add_columns(pairs, 0, hidden, names::layer(j, names::kGateProj),
                  lsrc(&LayerWeights::gate_proj), {c.intermediate_size, hidden}, i0);
    b.add_columns(pairs, hidden, hidden, names::layer(j, names::kUpProj),
                  lsrc(&LayerWeights::up_proj), {c.intermediate_size, hidden}, i0);
    // Row-parallel: the input features of this rank's heads / intermediate features.
    d.o_proj = b.alloc({hidden, q_width});
    b.add_block(d.o_proj, names::layer(j, names::kOProj), lsrc(&LayerWeights::o_proj),
                {hidden, q_full.first}, 0, q0);
    d.down_proj = b.alloc({hidden, inter});
    b.add_block(d.down_proj, names::layer(j, names::kDownProj), lsrc(&LayerWeights::down_proj),
                {hidden, c.intermediate_size}, 0, i0);
    if (c.is_swiftkv() && j >= c.num_key_value_layers) {
      d.q_proj_swiftkv = b.alloc({q_width, hidden});
      b.add_block(d.q_proj_swiftkv, names::layer(j, names::kQProjSwiftKV),
                  lsrc(&LayerWeights::q_proj_swiftkv), q_full, q0, 0);
      if (c.is_swiftkv_leader(j)) {
        const int64_t row = leader * 2 * kv_width;
        b.add_block(kv_proj_swiftkv_.rows(row, row + kv_width),
                    names::layer(j, names::kKProjSwiftKV), lsrc(&LayerWeights::k_proj_swiftkv),
                    kv_full, kv0, 0);
        b.add_block(kv_proj_swiftkv_.rows(row + kv_width, row + 2 * kv_width),
                    names::layer(j, names::kVProjSwiftKV), lsrc(&LayerWeights::v_proj_swiftkv),
                    kv_full, kv0, 0);
        ++leader;
      }
    }
    layers_.push_back(std::move(d));
  }

  num_parameters_ = 0;
  for (const WeightPart& part : b.parts) {
    num_parameters_ += part.full_rows * part.full_cols;  // the whole model's, once per name
    const bool whole = part.dst_col0 == 0 && part.cols == part.dst.dim(1) &&
                       part.dst.dim(0) == part.full_rows && part.cols == part.full_cols;
    Tensor source;  // the whole named tensor, in options_.dtype
    if (host != nullptr) {
      source =
          part.host->dtype() == options_.dtype ? *part.host : part.host->to_dtype(options_.dtype);
      source = source.reshape({part.full_rows, part.full_cols});
    } else {
      // Uniform on [-a, a] has standard deviation a / sqrt(3). A slice is cut from the whole
      // tensor drawn on the device, so every rank holds the values of the one-GPU model.
      source = whole ? part.dst
                     : ops::device_empty(ctx, {part.full_rows, part.full_cols}, options_.dtype);
      const float half_width = (part.is_norm ? 0.05F : 0.02F) * std::sqrt(3.0F);
      ops::fill_random_uniform(ctx, source, tensor_seed(seed, part.name),
                               part.is_norm ? 1.0F : 0.0F, half_width);
    }
    if (host != nullptr || !whole) {
      ops::copy_block(ctx, part.dst, 0, part.dst_col0, source, part.row0, part.col0,
                      part.dst.dim(0), part.cols);
      ops::synchronize(ctx);  // temporaries (converted host tensors, whole random tensors) go
    }
  }
  // Parameters of a tied head were counted once (the embedding only).
  ops::synchronize(ctx);
}

ModelWeights CudaLlamaModel::download_weights(const ops::Context& ctx) const {
  SWIFTKV_CHECK(shard_.size == 1, "download_weights: rank ", shard_.rank, " of ", shard_.size,
                " holds a slice of the weights");
  const ModelConfig& c = config_;
  const int64_t q_width = c.num_attention_heads * c.head_dim;
  const int64_t kv_width = c.num_key_value_heads * c.head_dim;
  const int64_t inter = c.intermediate_size;
  const auto host = [&](const Tensor& t) { return ops::to_host(ctx, t); };
  ModelWeights w;
  w.embed_tokens = host(embed_tokens_);
  w.norm = host(norm_);
  w.lm_head = c.tie_word_embeddings ? w.embed_tokens : host(lm_head_);
  if (c.is_swiftkv()) {
    w.norm_swiftkv = host(norm_swiftkv_);
  }
  int64_t leader = 0;
  for (int64_t j = 0; j < c.num_hidden_layers; ++j) {
    const DeviceLayer& d = layers_[static_cast<size_t>(j)];
    LayerWeights lw;
    lw.input_layernorm = host(d.input_layernorm);
    lw.post_attention_layernorm = host(d.post_attention_layernorm);
    lw.q_proj = host(d.qkv_proj.rows(0, q_width));
    lw.k_proj = host(d.qkv_proj.rows(q_width, q_width + kv_width));
    lw.v_proj = host(d.qkv_proj.rows(q_width + kv_width, q_width + 2 * kv_width));
    lw.o_proj = host(d.o_proj);
    const Tensor pairs = gate_up_pairs(d.gate_up_proj);
    const auto half = [&](int64_t col0) {
      const Tensor rows = ops::device_empty(ctx, {inter, c.hidden_size}, pairs.dtype());
      ops::copy_block(ctx, rows, 0, 0, pairs, 0, col0, inter, c.hidden_size);
      return host(rows);
    };
    lw.gate_proj = half(0);
    lw.up_proj = half(c.hidden_size);
    lw.down_proj = host(d.down_proj);
    if (d.q_proj_swiftkv.defined() && d.q_proj_swiftkv.numel() > 0) {
      lw.q_proj_swiftkv = host(d.q_proj_swiftkv);
    }
    if (c.is_swiftkv_leader(j)) {
      const int64_t row = leader * 2 * kv_width;
      lw.k_proj_swiftkv = host(kv_proj_swiftkv_.rows(row, row + kv_width));
      lw.v_proj_swiftkv = host(kv_proj_swiftkv_.rows(row + kv_width, row + 2 * kv_width));
      ++leader;
    }
    w.layers.push_back(std::move(lw));
  }
  return w;
}

// ---- buffers and metadata --------------------------------------------------------------------

void CudaLlamaModel::allocate_buffers(const ops::Context& ctx) {
  const ModelConfig& c = local_;
  const int64_t rows = options_.max_num_batched_tokens;
  const int64_t q_width = c.num_attention_heads * c.head_dim;
  const int64_t kv_width = c.num_key_value_heads * c.head_dim;
  const auto flat = [&](int64_t n, DType dtype) { return ops::device_empty(ctx, {n}, dtype); };
  const DType act = options_.dtype;
  residual_ = flat(rows * c.hidden_size, act);
  block_out_ = flat(rows * c.hidden_size, act);
  normed_ = flat(rows * c.hidden_size, act);
  qkv_ = flat(rows * (q_width + 2 * kv_width), act);
  attn_ = flat(rows * q_width, act);
  gate_up_ = flat(rows * 2 * c.intermediate_size, act);
  act_ = flat(rows * c.intermediate_size, act);
  if (swiftkv_active_) {
    kv_swiftkv_ = flat(rows * kv_proj_swiftkv_.dim(0), act);
  }
  residual_b_ = flat(options_.max_num_logits * c.hidden_size, act);
  block_out_b_ = flat(options_.max_num_logits * c.hidden_size, act);
  logits_ = flat(options_.max_num_logits * c.vocab_size, DType::kF32);
  if (shard_.size > 1) {
    logits_shard_ = flat(options_.max_num_logits * shard_.vocab_shard_rows, DType::kF32);
    logits_ranks_ = flat(shard_.size * logits_shard_.numel(), DType::kF32);
  }
  // Block tables are at most max_model_len wide (block_size >= 1).
  metadata_a_ =
      flat(layout_a_size(rows, options_.max_num_seqs, options_.max_model_len), DType::kI32);
  metadata_b_ =
      flat(layout_b_size(options_.max_num_logits, options_.max_num_seqs, options_.max_model_len),
           DType::kI32);
  token_source_rows_ = flat(2 * options_.max_num_seqs, DType::kI32);
  if (act == DType::kBF16) {  // the f32 model's attention (generic kernel) needs no workspace
    ops::reserve_attention_workspace(ctx, rows, c.num_attention_heads, c.num_key_value_heads,
                                     c.head_dim);
  }
  ops::synchronize(ctx);
}

// Validates the batch against the cache and the options, selects the rows that need logits and
// lays out both phases' metadata (padded for a graph when one applies).
CudaLlamaModel::HostStep CudaLlamaModel::plan_step(const BatchView& batch,
                                                   const KvCache& cache) const {
  const KvCacheShape& cs = cache.shape();
  SWIFTKV_CHECK(cs.num_cache_layers == num_cache_layers() && cs.dtype == kv_cache_dtype() &&
                    cs.num_kv_heads == local_.num_key_value_heads &&
                    cs.head_dim == config_.head_dim && cache.keys(0).device() == Device::kCuda,
                "the KV cache (", cs.num_cache_layers, " layers, ", dtype_name(cs.dtype),
                ") does not fit this model (", num_cache_layers(), " ",
                dtype_name(kv_cache_dtype()), " device layers)");
  const int64_t num_tokens = batch.token_ids.dim(0);
  const int64_t num_seqs = batch.num_logits.dim(0);
  const auto* ids = batch.token_ids.data<const int32_t>();
  const auto* positions = batch.positions.data<const int32_t>();
  const auto* slots = batch.slot_mapping.data<const int32_t>();
  const auto* starts = batch.attention.query_start_loc.data<const int32_t>();
  const auto* kv_lens = batch.attention.kv_lens.data<const int32_t>();
  const auto* tables = batch.attention.block_tables.data<const int32_t>();
  const auto* counts = batch.num_logits.data<const int32_t>();
  const int64_t in_width = batch.attention.block_tables.dim(1);
  const int64_t block_size = cs.block_size;
  const int64_t width = (options_.max_model_len + block_size - 1) / block_size;
  SWIFTKV_CHECK(batch.positions.dim(0) == num_tokens && batch.slot_mapping.dim(0) == num_tokens,
                "positions/slot_mapping do not match ", num_tokens, " tokens");
  SWIFTKV_CHECK(batch.attention.query_start_loc.dim(0) == num_seqs + 1 &&
                    batch.attention.kv_lens.dim(0) == num_seqs &&
                    batch.attention.block_tables.dim(0) == num_seqs,
                "attention metadata does not match ", num_seqs, " sequences");
  if (num_tokens > options_.max_num_batched_tokens || num_seqs > options_.max_num_seqs) {
    throw Error(str_cat("a step of ", num_tokens, " tokens in ", num_seqs,
                        " sequences exceeds the CUDA model's limits (",
                        options_.max_num_batched_tokens, " tokens, ", options_.max_num_seqs,
                        " sequences)"));
  }
  SWIFTKV_CHECK(starts[0] == 0 && starts[num_seqs] == num_tokens, "query_start_loc [", starts[0],
                " .. ", starts[num_seqs], "] for ", num_tokens, " tokens");
  for (int64_t t = 0; t < num_tokens; ++t) {
    SWIFTKV_CHECK(ids[t] >= 0 && ids[t] < config_.vocab_size, "token id ", ids[t], " at ", t,
                  " outside the vocabulary of ", config_.vocab_size);
    SWIFTKV_CHECK(slots[t] >= -1 && slots[t] < cs.num_blocks * block_size, "slot ", slots[t],
                  " at ", t, " outside the cache of ", cs.num_blocks, " blocks");
    SWIFTKV_CHECK(positions[t] >= 0, "position ", positions[t], " at ", t);
  }

  HostStep step;
  step.num_tokens = num_tokens;
  if (batch.token_source_rows.defined() && batch.token_source_rows.numel() > 0) {
    const Tensor& pairs = batch.token_source_rows;
    SWIFTKV_CHECK(pairs.rank() == 2 && pairs.dim(1) == 2 && pairs.dtype() == DType::kI32 &&
                      pairs.device() == Device::kCpu && pairs.dim(0) <= options_.max_num_seqs &&
                      batch.token_source.device() == Device::kCuda &&
                      batch.token_source.dtype() == DType::kI32,
                  "token_source_rows ", shape_str(pairs.shape()),
                  " must be host i32 [n <= max_num_seqs, 2] with an i32 device token_source");
    const auto* p = pairs.data<const int32_t>();
    for (int64_t i = 0; i < pairs.dim(0); ++i) {
      SWIFTKV_CHECK(p[2 * i] >= 0 && p[2 * i] < num_tokens && p[2 * i + 1] >= 0 &&
                        p[2 * i + 1] < batch.token_source.numel(),
                    "token_source_rows[", i, "] = (", p[2 * i], ", ", p[2 * i + 1], ") outside ",
                    num_tokens, " rows or ", batch.token_source.numel(), " source tokens");
    }
    step.token_source_rows.assign(p, p + 2 * pairs.dim(0));
  }
  bool decode_only = true;
  bool one_logit_each = true;  // every sequence that needs logits needs one
  std::vector<int32_t> selected;
  std::vector<int64_t> b_seqs;  // sequences with logits, in order
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int32_t q_len = starts[s + 1] - starts[s];
    SWIFTKV_CHECK(q_len >= 0 && counts[s] >= 0 && counts[s] <= q_len, "sequence ", s, " wants ",
                  counts[s], " logits from ", q_len, " rows");
    if (kv_lens[s] < q_len || kv_lens[s] > std::min(width, in_width) * block_size) {
      throw Error(str_cat("sequence ", s, " of ", kv_lens[s],
                          " tokens exceeds the CUDA model's max_model_len ", options_.max_model_len,
                          " or its block table"));
    }
    const int64_t used_blocks = (kv_lens[s] + block_size - 1) / block_size;
    for (int64_t i = 0; i < used_blocks; ++i) {
      const int32_t block = tables[s * in_width + i];
      SWIFTKV_CHECK(block >= 0 && block < cs.num_blocks, "block_tables[", s, ", ", i, "] = ", block,
                    " outside the cache of ", cs.num_blocks, " blocks");
    }
    step.max_query_len_a = std::max<int64_t>(step.max_query_len_a, q_len);
    if (step.num_decode_seqs_a == s && q_len >= 1 && q_len <= ops::kDecodeMaxQueryLen) {
      step.num_decode_seqs_a = s + 1;
      step.num_decode_tokens_a = starts[s + 1];
    }
    step.max_query_len_b = std::max<int64_t>(step.max_query_len_b, counts[s]);
    decode_only = decode_only && q_len == 1 && counts[s] == 1;
    one_logit_each = one_logit_each && counts[s] <= 1;
    if (counts[s] > 0) {
      b_seqs.push_back(s);
    }
    for (int32_t i = q_len - counts[s]; i < q_len; ++i) {
      selected.push_back(starts[s] + i);
    }
  }
  step.num_selected = static_cast<int64_t>(selected.size());
  if (step.num_selected > options_.max_num_logits) {
    throw Error(str_cat(step.num_selected, " rows need logits, more than the CUDA model's ",
                        options_.max_num_logits));
  }
  const auto num_b_seqs = static_cast<int64_t>(b_seqs.size());
  step.whole_step_graph =
      options_.cuda_graphs && decode_only && num_seqs > 0 && num_seqs <= options_.max_graph_batch;
  step.phase_b_graph = options_.cuda_graphs && !step.whole_step_graph && swiftkv_active_ &&
                       mode_ == SwiftKVMode::kOn && one_logit_each && step.num_selected > 0 &&
                       step.num_selected <= options_.max_graph_batch;

  StepShape& shape = step.shape;
  shape.table_width = width;
  shape.rows_a = step.whole_step_graph ? pad_to_power_of_two(num_tokens) : num_tokens;
  shape.seqs_a = step.whole_step_graph ? shape.rows_a : num_seqs;
  shape.rows_b = step.phase_b_graph ? pad_to_power_of_two(step.num_selected) : step.num_selected;
  shape.seqs_b = step.phase_b_graph ? shape.rows_b : num_b_seqs;
  if (step.whole_step_graph) {
    step.max_query_len_a = step.max_query_len_b = 1;
  }

  // Phase A: padding rows are token 0 at position 0 with slot -1 (no cache write), in empty
  // sequences of kv length 0.
  step.a.assign(static_cast<size_t>(layout_a_size(shape.rows_a, shape.seqs_a, width)), 0);
  int32_t* out = step.a.data();
  std::copy_n(ids, num_tokens, out);
  out += shape.rows_a;
  std::copy_n(positions, num_tokens, out);
  out += shape.rows_a;
  std::copy_n(slots, num_tokens, out);
  std::fill(out + num_tokens, out + shape.rows_a, -1);
  out += shape.rows_a;
  for (int64_t s = 0; s <= shape.seqs_a; ++s) {
    out[s] = starts[std::min(s, num_seqs)];
  }
  out += shape.seqs_a + 1;
  std::copy_n(kv_lens, num_seqs, out);
  out += shape.seqs_a;
  for (int64_t s = 0; s < num_seqs; ++s) {
    std::copy_n(tables + s * in_width, std::min(width, in_width), out + s * width);
  }

  // Phase B: the selected rows, their positions, and the sequences that have any, each with
  // its selected count as query length and its kv length unchanged (bottom-right causal).
  step.b.assign(static_cast<size_t>(layout_b_size(shape.rows_b, shape.seqs_b, width)), 0);
  out = step.b.data();
  std::copy(selected.begin(), selected.end(), out);
  out += shape.rows_b;
  for (int64_t i = 0; i < step.num_selected; ++i) {
    out[i] = positions[selected[static_cast<size_t>(i)]];
  }
  out += shape.rows_b;
  int32_t start = 0;
  for (int64_t i = 0; i <= shape.seqs_b; ++i) {
    out[i] = start;
    if (i < num_b_seqs) {
      start += counts[b_seqs[static_cast<size_t>(i)]];
    }
  }
  out += shape.seqs_b + 1;
  for (int64_t i = 0; i < num_b_seqs; ++i) {
    out[i] = kv_lens[b_seqs[static_cast<size_t>(i)]];
  }
  out += shape.seqs_b;
  for (int64_t i = 0; i < num_b_seqs; ++i) {
    std::copy_n(tables + b_seqs[static_cast<size_t>(i)] * in_width, std::min(width, in_width),
                out + i * width);
  }
  return step;
}

void CudaLlamaModel::upload_metadata(const ops::Context& ctx, const HostStep& step) {
  const auto upload = [&](const Tensor& device, const std::vector<int32_t>& host) {
    const auto n = static_cast<int64_t>(host.size());
    SWIFTKV_CHECK(n <= device.numel(), "step metadata of ", n, " entries overflows ",
                  device.numel());
    if (n > 0) {
      ops::copy(
          ctx, device.rows(0, n),
          Tensor::wrap(const_cast<int32_t*>(host.data()), {n}, DType::kI32, Device::kCpu, nullptr));
    }
  };
  upload(metadata_a_, step.a);
  if (!step.whole_step_graph) {
    upload(metadata_b_, step.b);
  }
  upload(token_source_rows_, step.token_source_rows);
}

CudaLlamaModel::Rows CudaLlamaModel::phase_a_rows(const HostStep& step) const {
  const StepShape& s = step.shape;
  Rows rows;
  rows.num_rows = s.rows_a;
  rows.residual = view(residual_, s.rows_a, config_.hidden_size);
  rows.block_out = view(block_out_, s.rows_a, config_.hidden_size);
  MetadataCursor cursor(metadata_a_);
  rows.token_ids = cursor.take(s.rows_a);
  rows.positions = cursor.take(s.rows_a);
  rows.slot_mapping = cursor.take(s.rows_a);
  rows.attention = cursor.take_attention(s.seqs_a, s.table_width, step.max_query_len_a);
  if (!step.whole_step_graph) {
    rows.attention.num_decode_seqs = step.num_decode_seqs_a;
    rows.attention.num_decode_tokens = step.num_decode_tokens_a;
  }
  return rows;
}

CudaLlamaModel::Rows CudaLlamaModel::phase_b_rows(const HostStep& step) const {
  const StepShape& s = step.shape;
  Rows rows;
  rows.num_rows = s.rows_b;
  rows.residual = view(residual_b_, s.rows_b, config_.hidden_size);
  rows.block_out = view(block_out_b_, s.rows_b, config_.hidden_size);
  MetadataCursor cursor(metadata_b_);
  rows.selected = cursor.take(s.rows_b);
  rows.positions = cursor.take(s.rows_b);
  rows.attention = cursor.take_attention(s.seqs_b, s.table_width, step.max_query_len_b);
  return rows;
}

// ---- the forward -----------------------------------------------------------------------------

void CudaLlamaModel::all_reduce(const ops::Context& ctx, const Tensor& t) const {
  if (shard_.size > 1) {
    ops::all_reduce_sum(ctx, *options_.tensor_parallel, t);
  }
}

bool CudaLlamaModel::fuses(const Rows& rows) const {
  return options_.one_token_fusion && rows.num_rows == 1;
}

bool CudaLlamaModel::fuses_lm_head(const Rows& rows, bool pending) const {
  return lm_head_fusion_ && fuses(rows) && !pending;
}

// A decoder layer. `pending`: the residual stream still lacks block_out (the last unfused
// block's output). One-row steps (fuses) run the projections as ops::decode_linear: the input
// norms are recomputed inside the projection that reads them, SwiGLU inside down_proj, and
// o_proj and down_proj add into the residual stream, so nothing is pending after the layer.
void CudaLlamaModel::run_layer(const ops::Context& ctx, int64_t layer, const Rows& rows,
                               const KvCache& cache, bool& pending) {
  const ModelConfig& c = local_;  // this rank's heads and intermediate features
  const DeviceLayer& w = layers_[static_cast<size_t>(layer)];
  const int64_t n = rows.num_rows;
  const bool fused = fuses(rows);
  const int64_t num_heads = c.num_attention_heads;
  const int64_t q_width = num_heads * c.head_dim;
  const auto eps = static_cast<float>(c.rms_norm_eps);
  const Tensor normed = view(normed_, n, c.hidden_size);
  if (pending) {
    ops::fused_add_rms_norm(ctx, normed, rows.residual, rows.block_out, w.input_layernorm, eps);
  } else if (!fused) {
    ops::rms_norm(ctx, normed, rows.residual, w.input_layernorm, eps);
  }
  // out = input_layernorm(x) · weightᵀ
  const auto input_projection = [&](const Tensor& out, const Tensor& weight) {
    if (!fused) {
      ops::linear(ctx, out, normed, weight);
    } else if (pending) {
      ops::decode_linear(ctx, {.out = out, .x = normed, .w = weight});
    } else {
      ops::decode_linear(ctx, {.out = out,
                               .x = rows.residual,
                               .w = weight,
                               .input = ops::LinearInput::kRmsNorm,
                               .norm_weight = w.input_layernorm,
                               .eps = eps});
    }
  };
  const int64_t cache_layer = cache_layer_of(layer);
  const Tensor& k_cache = cache.keys(cache_layer);
  const Tensor& v_cache = cache.values(cache_layer);
  const Tensor attn = view(attn_, n, q_width);
  const float scale = 1.0F / std::sqrt(static_cast<float>(c.head_dim));
  // RoPE, the cache write and attention: one kernel in a one-row step (no RoPE launch).
  const auto attention = [&](const Tensor& qkv, int64_t rope_kv_heads) {
    ops::paged_attention_with_rope(ctx, attn.reshape({n, num_heads, c.head_dim}), qkv, k_cache,
                                   v_cache, rows.attention, scale,
                                   {.positions = rows.positions,
                                    .inv_freq = inv_freq_,
                                    .num_kv_heads = rope_kv_heads,
                                    .slot_mapping = rows.slot_mapping});
  };
  if (swiftkv_active_ && layer >= c.num_key_value_layers) {
    // SwiftKV layer: Q only; its K/V were written in Phase A.
    const Tensor q = view(qkv_, n, q_width);
    input_projection(q, w.q_proj_swiftkv);
    attention(q, 0);
  } else {
    const Tensor qkv = view(qkv_, n, w.qkv_proj.dim(0));
    input_projection(qkv, w.qkv_proj);
    attention(qkv, c.num_key_value_heads);
  }
  const Tensor gate_up = view(gate_up_, n, 2 * c.intermediate_size);
  const Tensor act = view(act_, n, c.intermediate_size);
  if (fused) {
    ops::decode_linear(ctx, {.out = rows.residual, .x = attn, .w = w.o_proj, .accumulate = true});
    ops::decode_linear(ctx, {.out = act,
                             .x = rows.residual,
                             .w = w.gate_up_proj,
                             .input = ops::LinearInput::kRmsNorm,
                             .norm_weight = w.post_attention_layernorm,
                             .eps = eps,
                             .swiglu = true});
    ops::decode_linear(ctx, {.out = rows.residual, .x = act, .w = w.down_proj, .accumulate = true});
    pending = false;
    return;
  }
  ops::linear(ctx, rows.block_out, attn, w.o_proj);
  all_reduce(ctx, rows.block_out);  // row-parallel: the sum of every rank's heads
  ops::fused_add_rms_norm(ctx, normed, rows.residual, rows.block_out, w.post_attention_layernorm,
                          eps);
  ops::linear(ctx, gate_up, normed, w.gate_up_proj);
  ops::swiglu(ctx, act, gate_up, /*interleaved=*/true);
  ops::linear(ctx, rows.block_out, act, w.down_proj);
  all_reduce(ctx, rows.block_out);
  pending = true;
}

// Phase A's tail: s = norm_swiftkv(x_l), every leader's K/V from one GEMM, RoPE and the write
// into all later cache layers in one launch.
// normed: norm_swiftkv(x_l) is in normed_; otherwise (a fused one-row step) the projection
// computes it from the residual stream.
void CudaLlamaModel::write_swiftkv_cache(const ops::Context& ctx, const Rows& rows,
                                         const KvCache& cache, bool normed) {
  const ModelConfig& c = local_;
  const int64_t n = rows.num_rows;
  const Tensor kv = view(kv_swiftkv_, n, kv_proj_swiftkv_.dim(0));
  if (normed) {
    ops::linear(ctx, kv, view(normed_, n, c.hidden_size), kv_proj_swiftkv_);
  } else {
    ops::decode_linear(ctx, {.out = kv,
                             .x = rows.residual,
                             .w = kv_proj_swiftkv_,
                             .input = ops::LinearInput::kRmsNorm,
                             .norm_weight = norm_swiftkv_,
                             .eps = static_cast<float>(c.rms_norm_eps)});
  }
  std::vector<Tensor> k_caches;
  std::vector<Tensor> v_caches;
  for (int64_t j = c.num_key_value_layers; j < c.num_hidden_layers; ++j) {
    if (c.is_swiftkv_leader(j)) {
      k_caches.push_back(cache.keys(cache_layer_of(j)));
      v_caches.push_back(cache.values(cache_layer_of(j)));
    }
  }
  ops::rope_write_kv_cache(ctx, kv, 0, c.num_key_value_heads, rows.positions, inv_freq_, k_caches,
                           v_caches, rows.slot_mapping);
}

void CudaLlamaModel::run_phase_a(const ops::Context& ctx, const Rows& rows, const KvCache& cache,
                                 bool& pending) {
  const ModelConfig& c = config_;
  if (shard_.size > 1) {  // vocabulary-parallel: zero rows for other ranks' tokens, then summed
    ops::embedding_shard(ctx, rows.residual, embed_tokens_, rows.token_ids, shard_.vocab_begin);
    all_reduce(ctx, rows.residual);
  } else {
    ops::embedding(ctx, rows.residual, embed_tokens_, rows.token_ids);
  }
  pending = false;
  const int64_t num_ordinary = swiftkv_active_ ? c.num_key_value_layers : c.num_hidden_layers;
  for (int64_t layer = 0; layer < num_ordinary; ++layer) {
    run_layer(ctx, layer, rows, cache, pending);
  }
  if (swiftkv_active_) {
    const Tensor normed = view(normed_, rows.num_rows, c.hidden_size);
    const auto eps = static_cast<float>(c.rms_norm_eps);
    const bool fused = fuses(rows) && !pending;
    if (pending) {  // residual = x_l, normed = norm_swiftkv(x_l)
      ops::fused_add_rms_norm(ctx, normed, rows.residual, rows.block_out, norm_swiftkv_, eps);
    } else if (!fused) {
      ops::rms_norm(ctx, normed, rows.residual, norm_swiftkv_, eps);
    }
    pending = false;
    write_swiftkv_cache(ctx, rows, cache, !fused);
  }
}

void CudaLlamaModel::run_logits(const ops::Context& ctx, const Rows& rows, int64_t num_rows,
                                bool pending) {
  const ModelConfig& c = config_;
  const auto eps = static_cast<float>(c.rms_norm_eps);
  const Tensor normed = view(normed_, num_rows, c.hidden_size);
  const Tensor residual = rows.residual.rows(0, num_rows);
  if (fuses_lm_head(rows, pending)) {
    ops::decode_linear(ctx, {.out = view(logits_, 1, c.vocab_size),
                             .x = residual,
                             .w = lm_head_,
                             .input = ops::LinearInput::kRmsNorm,
                             .norm_weight = norm_,
                             .eps = eps});
    return;
  }
  if (pending) {
    ops::fused_add_rms_norm(ctx, normed, residual, rows.block_out.rows(0, num_rows), norm_, eps);
  } else {
    ops::rms_norm(ctx, normed, residual, norm_, eps);
  }
  if (shard_.size == 1) {
    ops::linear(ctx, view(logits_, num_rows, c.vocab_size), normed, lm_head_);
    return;
  }
  // Vocabulary-parallel head: this rank's columns, all-gathered rank-major, then laid side by
  // side (the last shard's padding rows dropped).
  const int64_t shard_rows = shard_.vocab_shard_rows;
  const Tensor mine = view(logits_shard_, num_rows, shard_rows);
  ops::linear(ctx, mine, normed, lm_head_);
  const Tensor ranks = view(logits_ranks_, shard_.size * num_rows, shard_rows);
  ops::all_gather(ctx, *options_.tensor_parallel, ranks, mine);
  const Tensor logits = view(logits_, num_rows, c.vocab_size);
  for (int64_t r = 0; r < shard_.size; ++r) {
    const int64_t begin = std::min(c.vocab_size, r * shard_rows);
    const int64_t width = std::min(c.vocab_size, begin + shard_rows) - begin;
    ops::copy_block(ctx, logits, 0, begin, ranks, r * num_rows, 0, num_rows, width);
  }
}

// After Phase A: the later layers (SwiftKV) and the logits of the selected rows. With a whole-
// step graph every row is selected in order, so rows B are rows A (no gather).
void CudaLlamaModel::run_phase_b(const ops::Context& ctx, const HostStep& step, const Rows& a,
                                 const Rows& b, const KvCache& cache, bool pending) {
  const ModelConfig& c = config_;
  const bool identity = step.whole_step_graph;
  const auto gather = [&](bool with_block_out) {
    ops::gather_rows(ctx, b.residual, a.residual, b.selected);
    if (with_block_out) {
      ops::gather_rows(ctx, b.block_out, a.block_out, b.selected);
    }
  };
  if (swiftkv_active_ && mode_ == SwiftKVMode::kOn) {
    if (!identity) {
      gather(pending);
    }
    const Rows& rows = identity ? a : b;
    for (int64_t layer = c.num_key_value_layers; layer < c.num_hidden_layers; ++layer) {
      run_layer(ctx, layer, rows, cache, pending);
    }
    run_logits(ctx, rows, rows.num_rows, pending);
    return;
  }
  if (swiftkv_active_) {  // kNoSkip: every row through the later layers
    for (int64_t layer = c.num_key_value_layers; layer < c.num_hidden_layers; ++layer) {
      run_layer(ctx, layer, a, cache, pending);
    }
  }
  if (identity) {
    run_logits(ctx, a, a.num_rows, pending);
  } else {
    gather(pending);
    run_logits(ctx, b, b.num_rows, pending);
  }
}

void CudaLlamaModel::run_graph(const ops::Context& ctx, GraphKind kind, int64_t padded,
                               const std::function<void()>& body) {
  const auto key = std::pair{kind, padded};
  if (const auto it = graphs_.find(key); it != graphs_.end()) {
    it->second.replay(ctx);
    return;
  }
  body();  // this step, eagerly (also warms up plans and kernel attributes before capture)
  graphs_[key] = ops::DeviceGraph::capture(ctx, body);
}

Tensor CudaLlamaModel::forward_device(const ops::Context& ctx, const BatchView& batch,
                                      const KvCache& cache) {
  HostStep step = plan_step(batch, cache);
  const int64_t vocab = config_.vocab_size;
  if (step.num_tokens == 0) {
    return view(logits_, 0, vocab);
  }
  // Graphs hold the cache's pointers and shape, and the context's stream and workspace.
  const std::vector<const void*> cache_key = {
      ctx.cuda, cache.keys(0).raw(), reinterpret_cast<const void*>(cache.shape().num_blocks),
      reinterpret_cast<const void*>(cache.shape().block_size)};
  if (cache_key != graph_cache_key_) {
    graphs_.clear();
    graph_cache_key_ = cache_key;
  }
  upload_metadata(ctx, step);
  const Rows a = phase_a_rows(step);
  const Rows b = phase_b_rows(step);
  if (!step.token_source_rows.empty()) {
    const auto num_pairs = static_cast<int64_t>(step.token_source_rows.size()) / 2;
    ops::copy_tokens(ctx, a.token_ids, batch.token_source,
                     token_source_rows_.rows(0, 2 * num_pairs).reshape({num_pairs, 2}));
  }
  if (step.whole_step_graph) {
    run_graph(ctx, GraphKind::kWholeStep, step.shape.rows_a, [&] {
      bool pending = false;
      run_phase_a(ctx, a, cache, pending);
      run_phase_b(ctx, step, a, b, cache, pending);
    });
  } else {
    bool pending = false;
    run_phase_a(ctx, a, cache, pending);
    if (step.num_selected > 0) {
      if (step.phase_b_graph) {
        run_graph(ctx, GraphKind::kPhaseB, step.shape.rows_b,
                  [&] { run_phase_b(ctx, step, a, b, cache, pending); });
      } else {
        run_phase_b(ctx, step, a, b, cache, pending);
      }
    }
  }
  return view(logits_, step.num_selected, vocab);
}

Tensor CudaLlamaModel::forward(const ops::Context& ctx, const BatchView& batch,
                               const KvCache& cache) {
  return ops::to_host(ctx, forward_device(ctx, batch, cache));
}

int64_t CudaLlamaModel::num_parameters() const { return num_parameters_; }

}  // namespace swiftkv
