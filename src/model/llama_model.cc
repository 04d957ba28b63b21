#include "model/llama_model.h"

#include <cmath>
#include <utility>

#include "core/error.h"
#include "model/rope_frequencies.h"
#include "ops/gather_rows.h"
#include "ops/ops.h"

namespace swiftkv {

// The rows one phase runs on.
struct LlamaModel::Rows {
  Tensor hidden;        // [num_rows, hidden_size] f32, the residual stream
  Tensor positions;     // [num_rows] i32
  Tensor slot_mapping;  // [num_rows] i32 (Phase A only: where this layer's K/V go)
  ops::AttentionMetadata attention;
};

namespace {

// Rows of each sequence that need logits, and Phase B's metadata for them (DESIGN.md §3.2).
struct Selection {
  Tensor indices;                    // [num_selected] i32, rows of the full batch
  ops::AttentionMetadata attention;  // query lengths = selected counts, kv lengths unchanged
};

Selection select_logit_rows(const BatchView& batch) {
  const Tensor& query_start = batch.attention.query_start_loc;
  const int64_t num_seqs = batch.num_logits.dim(0);
  SWIFTKV_CHECK(query_start.dim(0) == num_seqs + 1, "query_start_loc has ", query_start.dim(0),
                " entries for ", num_seqs, " sequences");
  const auto* starts = query_start.data<const int32_t>();
  const auto* counts = batch.num_logits.data<const int32_t>();
  std::vector<int32_t> indices;
  std::vector<int32_t> selected_start = {0};
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int32_t q_len = starts[s + 1] - starts[s];
    SWIFTKV_CHECK(counts[s] >= 0 && counts[s] <= q_len, "sequence ", s, " wants ", counts[s],
                  " logits from ", q_len, " rows");
    for (int32_t i = q_len - counts[s]; i < q_len; ++i) {
      indices.push_back(starts[s] + i);
    }
    selected_start.push_back(static_cast<int32_t>(indices.size()));
  }
  Selection selection;
  selection.indices = Tensor::from_i32({static_cast<int64_t>(indices.size())}, indices);
  selection.attention.query_start_loc = Tensor::from_i32({num_seqs + 1}, selected_start);
  selection.attention.kv_lens = batch.attention.kv_lens;
  selection.attention.block_tables = batch.attention.block_tables;
  return selection;
}

Tensor gather_i32(const Tensor& values, const Tensor& indices) {
  const int64_t n = indices.dim(0);
  Tensor out = Tensor::empty({n}, DType::kI32);
  for (int64_t i = 0; i < n; ++i) {
    out.data<int32_t>()[i] = values.data<const int32_t>()[indices.data<const int32_t>()[i]];
  }
  return out;
}

Tensor gather_f32_rows(const ops::Context& ctx, const Tensor& x, const Tensor& indices) {
  Tensor out = Tensor::empty({indices.dim(0), x.dim(1)}, DType::kF32);
  ops::gather_rows(ctx, out, x, indices);
  return out;
}

int64_t count(const Tensor& t) { return t.defined() ? t.numel() : 0; }

}  // namespace

LlamaModel::LlamaModel(ModelConfig config, ModelWeights weights, SwiftKVMode mode)
    : config_(std::move(config)),
      weights_(std::move(weights)),
      mode_(mode),
      swiftkv_active_(config_.is_swiftkv() && mode != SwiftKVMode::kOff) {
  const std::vector<float> inv_freq = rope_inv_freq(config_);
  inv_freq_ = Tensor::from_f32({static_cast<int64_t>(inv_freq.size())}, inv_freq);
}

int64_t LlamaModel::num_cache_layers() const {
  return swiftkv_active_ ? config_.num_cache_layers() : config_.num_hidden_layers;
}

int64_t LlamaModel::cache_layer_of(int64_t layer) const {
  return swiftkv_active_ ? config_.cache_layer_of(layer) : layer;
}

KvCacheShape LlamaModel::cache_shape(int64_t num_blocks, int64_t block_size) const {
  return KvCacheShape{.num_cache_layers = num_cache_layers(),
                      .num_blocks = num_blocks,
                      .block_size = block_size,
                      .num_kv_heads = config_.num_key_value_heads,
                      .head_dim = config_.head_dim};
}

int64_t LlamaModel::num_parameters() const {
  int64_t total =
      count(weights_.embed_tokens) + count(weights_.norm) + count(weights_.norm_swiftkv);
  if (!config_.tie_word_embeddings) {
    total += count(weights_.lm_head);
  }
  for (const LayerWeights& w : weights_.layers) {
    for (const Tensor* t : {&w.input_layernorm, &w.q_proj, &w.k_proj, &w.v_proj, &w.o_proj,
                            &w.post_attention_layernorm, &w.gate_proj, &w.up_proj, &w.down_proj,
                            &w.q_proj_swiftkv, &w.k_proj_swiftkv, &w.v_proj_swiftkv}) {
      total += count(*t);
    }
  }
  return total;
}

// One attention block on `rows`, residual added in place. Ordinary layers compute their own
// K/V and write them at rows.slot_mapping; SwiftKV layers only compute Q (their K/V were
// written in Phase A) and attend to their group's cache layer.
void LlamaModel::attention_block(const ops::Context& ctx, int64_t layer, const Rows& rows,
                                 const KvCache& cache) const {
  const LayerWeights& w = weights_.layers[static_cast<size_t>(layer)];
  const int64_t num_rows = rows.hidden.dim(0);
  const int64_t num_heads = config_.num_attention_heads;
  const int64_t num_kv_heads = config_.num_key_value_heads;
  const int64_t head_dim = config_.head_dim;
  const bool swiftkv_layer = swiftkv_active_ && layer >= config_.num_key_value_layers;
  const int64_t cache_layer = cache_layer_of(layer);

  Tensor normed = Tensor::empty({num_rows, config_.hidden_size}, DType::kF32);
  ops::rms_norm(ctx, normed, rows.hidden, w.input_layernorm,
                static_cast<float>(config_.rms_norm_eps));

  Tensor q = Tensor::empty({num_rows, num_heads * head_dim}, DType::kF32);
  ops::linear(ctx, q, normed, swiftkv_layer ? w.q_proj_swiftkv : w.q_proj);
  q = q.reshape({num_rows, num_heads, head_dim});
  ops::rope(ctx, q, rows.positions, inv_freq_);

  if (!swiftkv_layer) {
    Tensor k = Tensor::empty({num_rows, num_kv_heads * head_dim}, DType::kF32);
    Tensor v = Tensor::empty({num_rows, num_kv_heads * head_dim}, DType::kF32);
    ops::linear(ctx, k, normed, w.k_proj);
    ops::linear(ctx, v, normed, w.v_proj);
    k = k.reshape({num_rows, num_kv_heads, head_dim});
    v = v.reshape({num_rows, num_kv_heads, head_dim});
    ops::rope(ctx, k, rows.positions, inv_freq_);
    ops::write_kv_cache(ctx, cache.keys(cache_layer), cache.values(cache_layer), k, v,
                        rows.slot_mapping);
  }

  Tensor attn = Tensor::empty({num_rows, num_heads, head_dim}, DType::kF32);
  ops::paged_attention(ctx, attn, q, cache.keys(cache_layer), cache.values(cache_layer),
                       rows.attention, 1.0F / std::sqrt(static_cast<float>(head_dim)));
  Tensor out = Tensor::empty({num_rows, config_.hidden_size}, DType::kF32);
  ops::linear(ctx, out, attn.reshape({num_rows, num_heads * head_dim}), w.o_proj);
  ops::add_inplace(ctx, rows.hidden, out);
}

// The SwiGLU MLP block, residual added in place. hidden: [num_rows, hidden_size] f32.
void LlamaModel::mlp_block(const ops::Context& ctx, int64_t layer, const Tensor& hidden) const {
  const LayerWeights& w = weights_.layers[static_cast<size_t>(layer)];
  const int64_t num_rows = hidden.dim(0);
  Tensor normed = Tensor::empty({num_rows, config_.hidden_size}, DType::kF32);
  ops::rms_norm(ctx, normed, hidden, w.post_attention_layernorm,
                static_cast<float>(config_.rms_norm_eps));
  Tensor gate = Tensor::empty({num_rows, config_.intermediate_size}, DType::kF32);
  Tensor up = Tensor::empty({num_rows, config_.intermediate_size}, DType::kF32);
  ops::linear(ctx, gate, normed, w.gate_proj);
  ops::linear(ctx, up, normed, w.up_proj);
  ops::silu_mul(ctx, gate, gate, up);
  Tensor down = Tensor::empty({num_rows, config_.hidden_size}, DType::kF32);
  ops::linear(ctx, down, gate, w.down_proj);
  ops::add_inplace(ctx, hidden, down);
}

// Phase A's tail: s = norm_swiftkv(x_l), then every group leader's K/V from s, with RoPE,
// written into that group's cache layer for every token of the batch.
void LlamaModel::write_swiftkv_cache(const ops::Context& ctx, const Tensor& hidden,
                                     const BatchView& batch, const KvCache& cache) const {
  const int64_t num_rows = hidden.dim(0);
  const int64_t kv_width = config_.num_key_value_heads * config_.head_dim;
  const Shape kv_shape = {num_rows, config_.num_key_value_heads, config_.head_dim};
  Tensor s = Tensor::empty({num_rows, config_.hidden_size}, DType::kF32);
  ops::rms_norm(ctx, s, hidden, weights_.norm_swiftkv, static_cast<float>(config_.rms_norm_eps));
  Tensor k = Tensor::empty({num_rows, kv_width}, DType::kF32);
  Tensor v = Tensor::empty({num_rows, kv_width}, DType::kF32);
  for (int64_t layer = config_.num_key_value_layers; layer < config_.num_hidden_layers; ++layer) {
    if (!config_.is_swiftkv_leader(layer)) {
      continue;
    }
    const LayerWeights& w = weights_.layers[static_cast<size_t>(layer)];
    ops::linear(ctx, k, s, w.k_proj_swiftkv);
    ops::linear(ctx, v, s, w.v_proj_swiftkv);
    const Tensor k_heads = k.reshape(kv_shape);
    ops::rope(ctx, k_heads, batch.positions, inv_freq_);
    const int64_t cache_layer = cache_layer_of(layer);
    ops::write_kv_cache(ctx, cache.keys(cache_layer), cache.values(cache_layer), k_heads,
                        v.reshape(kv_shape), batch.slot_mapping);
  }
}

Tensor LlamaModel::forward(const ops::Context& ctx, const BatchView& batch,
                           const KvCache& cache) const {
  SWIFTKV_CHECK(cache.shape().num_cache_layers == num_cache_layers(), "cache has ",
                cache.shape().num_cache_layers, " layers, model needs ", num_cache_layers());
  const int64_t num_tokens = batch.token_ids.dim(0);
  SWIFTKV_CHECK(batch.positions.dim(0) == num_tokens && batch.slot_mapping.dim(0) == num_tokens,
                "positions/slot_mapping do not match ", num_tokens, " tokens");
  SWIFTKV_CHECK(!batch.token_source_rows.defined() || batch.token_source_rows.numel() == 0,
                "the CPU model takes host token ids only (no token_source_rows)");
  const Selection selection = select_logit_rows(batch);

  // Phase A: every token through the ordinary layers.
  Rows rows{.hidden = Tensor::empty({num_tokens, config_.hidden_size}, DType::kF32),
            .positions = batch.positions,
            .slot_mapping = batch.slot_mapping,
            .attention = batch.attention};
  ops::embedding(ctx, rows.hidden, weights_.embed_tokens, batch.token_ids);
  const int64_t num_ordinary =
      swiftkv_active_ ? config_.num_key_value_layers : config_.num_hidden_layers;
  for (int64_t layer = 0; layer < num_ordinary; ++layer) {
    attention_block(ctx, layer, rows, cache);
    mlp_block(ctx, layer, rows.hidden);
  }

  bool rows_are_selected = false;
  if (swiftkv_active_) {
    write_swiftkv_cache(ctx, rows.hidden, batch, cache);
    if (mode_ == SwiftKVMode::kOn) {
      // Phase B: only the rows that need logits continue.
      rows.hidden = gather_f32_rows(ctx, rows.hidden, selection.indices);
      rows.positions = gather_i32(batch.positions, selection.indices);
      rows.slot_mapping = Tensor();
      rows.attention = selection.attention;
      rows_are_selected = true;
    }
    for (int64_t layer = config_.num_key_value_layers; layer < config_.num_hidden_layers; ++layer) {
      attention_block(ctx, layer, rows, cache);
      mlp_block(ctx, layer, rows.hidden);
    }
  }

  // lm_head on the selected rows only.
  Tensor selected =
      rows_are_selected ? rows.hidden : gather_f32_rows(ctx, rows.hidden, selection.indices);
  const int64_t num_selected = selected.dim(0);
  ops::rms_norm(ctx, selected, selected, weights_.norm, static_cast<float>(config_.rms_norm_eps));
  Tensor logits = Tensor::empty({num_selected, config_.vocab_size}, DType::kF32);
  ops::linear(ctx, logits, selected, weights_.lm_head);
  return logits;
}

}  // namespace swiftkv
