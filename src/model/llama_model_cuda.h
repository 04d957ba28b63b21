// The Llama / Llama-SwiftKV forward on CUDA (DESIGN.md §3 "On CUDA"): the same BatchView, the
// same two-phase SwiftKV semantics as LlamaModel (llama_model.h), on device tensors through the
// ops' kCuda backend, with the GPU's fusions and CUDA graphs.
//
// Why a sibling of LlamaModel rather than one forward for both devices: the CPU forward (f32,
// unfused, allocating per call) is used by the engine and its tests as is; the GPU forward needs
// weights pre-concatenated at load (QKV, gate-up, every SwiftKV leader's K/V), activation
// buffers sized once at start-up, and graph capture of decode-shaped work, which reshape the
// forward. Both are sequences of src/ops calls; the CPU forward is the oracle in tests/gpu.
//
// Per layer: [fused add +] RMSNorm → one QKV GEMM → RoPE + paged cache write (one kernel) →
// paged attention (split-KV decode kernel for decode-shaped batches, flash-style prefill kernel
// otherwise) → o_proj → fused add + RMSNorm → one gate-up GEMM → SwiGLU → down_proj.
// SwiftKV (mode kOn): Phase A runs every token through layers [0, l), then norm_swiftkv, ONE
// GEMM producing every group leader's K/V, and ONE RoPE + cache-write launch into all later
// cache layers; Phase B runs the rows that need logits (BatchView.num_logits) through layers
// [l, L), the final norm and lm_head. kNoSkip runs every row through Phase B; kOff is the
// original wiring from the same weights.
//
// CUDA graphs (CudaModelOptions.cuda_graphs): decode-only steps (one token and one logit per
// sequence) replay a graph of the whole step, and Phase B of other steps replays a graph when
// every sequence that needs logits needs exactly one; both are captured per batch size padded to
// a power of two, on first use. Every step first copies its metadata (token ids, positions,
// slots, query starts, kv lengths, block tables, selected rows) into static device buffers the
// graphs read, so a replay never sees stale metadata; graphs are dropped when the KV cache
// changes. Padding rows have slot -1 (no cache write) and belong to no sequence.
//
// Element type (CudaModelOptions.dtype): bf16 weights, activations and KV cache by default; f32
// for exact f32 serving of small models (stories260K's greedy output equals llama2.c's), with
// true f32 GEMMs and every attention on the generic kernel. The same kernels, templated on the
// element type, run both. Under bf16 the KV cache may be fp8 e4m3 instead
// (CudaModelOptions.kv_cache_dtype, vLLM's --kv-cache-dtype fp8 with scale 1.0): the cache write
// rounds each bf16 K/V value to e4m3 (nearest even, saturating to ±448), attention reads the
// values back exactly; half the cache bytes, so twice the tokens per GiB and half the K/V traffic
// of decode, for one e4m3 rounding (relative 2^-4) of every cached K/V value.
//
// Tensor parallelism (CudaModelOptions.tensor_parallel, model/tensor_parallel.h): each rank holds
// its heads, KV heads, intermediate features and vocabulary rows, sliced from the same named
// tensors (uploaded or generated, so a random model's shards are the shards of the one-GPU
// model); o_proj, down_proj and the embedding are all-reduced, the logits all-gathered. Every
// rank runs forward() on the same batch at the same time, one thread per rank, and every rank
// returns the full logits.
//
// Not thread-safe: one step at a time (forward() mutates the activation buffers and graphs).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "model/batch.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/llama_model.h"
#include "model/tensor_parallel.h"
#include "model/weights.h"
#include "ops/collectives.h"
#include "ops/context.h"
#include "ops/device.h"

namespace swiftkv {

struct CudaModelOptions {
  int64_t max_num_batched_tokens = 8192;  // rows of one step (activation buffers are this tall)
  int64_t max_num_seqs = 256;             // sequences of one step
  int64_t max_num_logits = 256;           // rows of one step that need logits
  int64_t max_model_len = 4096;           // longest sequence (width of the block tables)
  bool cuda_graphs = true;
  int64_t max_graph_batch = 256;  // largest padded batch a graph is captured for
  // Steps of one row (batch-1 decode) run each projection as ops::decode_linear, with the
  // norms, SwiGLU and residual adds fused in, when the model allows it (bf16, one rank, hidden
  // and intermediate sizes the kernel takes); false: always the unfused ops (for comparison).
  bool one_token_fusion = true;
  // Element type of the weights, activations and KV cache: kBF16 (the fast default), or kF32 for
  // exact f32 serving of small models (true f32 GEMMs, no TF32; attention on the generic kernel,
  // since the tensor-core attention kernels are bf16-only).
  DType dtype = DType::kBF16;
  // Element type of the KV cache: nullopt = dtype; or kF8E4M3 with dtype kBF16. Anything else
  // (e4m3 under the f32 model, a cache dtype unlike the model's) is an Error at construction.
  std::optional<DType> kv_cache_dtype;
  // Tensor parallelism: this model is rank tensor_parallel->rank() of tensor_parallel->size()
  // (model/tensor_parallel.h says what each rank holds); null: the whole model. The communicator
  // must outlive the model; a communicator that cannot be captured turns CUDA graphs off.
  const ops::Communicator* tensor_parallel = nullptr;
};

class CudaLlamaModel {
 public:
  // Uploads host weights, converted to options.dtype on the way (copied as is when they match).
  static std::unique_ptr<CudaLlamaModel> upload(const ops::Context& ctx, ModelConfig config,
                                                const ModelWeights& weights, SwiftKVMode mode,
                                                const CudaModelOptions& options = {});
  // Random weights generated on the device, reproducible from `seed`: every named tensor (Hugging
  // Face name) is filled from its own counter-based stream, so a SwiftKV model and the plain
  // model of the same shape share their base weights (`--swiftkv off` == the base model).
  // Matrices uniform with standard deviation 0.02, norms 1 ± uniform with deviation 0.05.
  static std::unique_ptr<CudaLlamaModel> random(const ops::Context& ctx, ModelConfig config,
                                                uint64_t seed, SwiftKVMode mode,
                                                const CudaModelOptions& options = {});
  ~CudaLlamaModel();
  CudaLlamaModel(const CudaLlamaModel&) = delete;
  CudaLlamaModel& operator=(const CudaLlamaModel&) = delete;

  const ModelConfig& config() const { return config_; }  // the whole model's
  const TensorParallelShard& shard() const { return shard_; }
  SwiftKVMode mode() const { return mode_; }
  bool swiftkv_active() const { return swiftkv_active_; }
  // The options, kv_cache_dtype resolved (never nullopt).
  const CudaModelOptions& options() const { return options_; }
  DType kv_cache_dtype() const { return *options_.kv_cache_dtype; }
  int64_t num_cache_layers() const;
  int64_t cache_layer_of(int64_t layer) const;
  // A cache shape (kv_cache_dtype(), K and V of every cache layer) for `num_blocks` blocks of
  // `block_size` tokens (allocate it with KvCache(ctx, shape)); under tensor parallelism, this
  // rank's KV heads.
  KvCacheShape cache_shape(int64_t num_blocks, int64_t block_size) const;

  // LlamaModel::forward's contract: writes every token's K/V into `cache` (a device cache) and
  // returns the logits of the rows selected by batch.num_logits, [sum(num_logits), vocab_size]
  // f32 on the host, in row order. `batch` holds host tensors.
  Tensor forward(const ops::Context& ctx, const BatchView& batch, const KvCache& cache);
  // The same, leaving the logits on the device: a [sum(num_logits), vocab_size] f32 view of a
  // static buffer, valid until the next call. Enqueued on ctx's stream, not waited for.
  Tensor forward_device(const ops::Context& ctx, const BatchView& batch, const KvCache& cache);

  // A host copy of the weights (options().dtype, LlamaModel's layout), to build the CPU oracle in
  // tests. Not for a tensor-parallel rank.
  ModelWeights download_weights(const ops::Context& ctx) const;
  // Parameters counted once (tied head once), as LlamaModel::num_parameters.
  int64_t num_parameters() const;
  int64_t num_graphs() const { return static_cast<int64_t>(graphs_.size()); }

 private:
  struct DeviceLayer {
    Tensor input_layernorm;           // [hidden_size]
    Tensor post_attention_layernorm;  // [hidden_size]
    Tensor qkv_proj;                  // [(num_heads + 2 num_kv_heads) head_dim, hidden_size]
    Tensor q_proj_swiftkv;            // [num_heads head_dim, hidden_size] (SwiftKV layers)
    Tensor o_proj;                    // [hidden_size, num_heads head_dim]
    Tensor gate_up_proj;  // [2 intermediate_size, hidden_size], rows gate j, up j interleaved
    Tensor down_proj;     // [hidden_size, intermediate_size]
  };
  struct Rows;       // the rows one phase runs on
  struct StepShape;  // the sizes of one step's metadata (graph key)
  struct HostStep;   // one step's metadata, built on the host
  enum class GraphKind { kWholeStep, kPhaseB };

  CudaLlamaModel(const ops::Context& ctx, ModelConfig config, SwiftKVMode mode,
                 const CudaModelOptions& options);
  void allocate_weights(const ops::Context& ctx, const ModelWeights* host, uint64_t seed);
  void allocate_buffers(const ops::Context& ctx);

  HostStep plan_step(const BatchView& batch, const KvCache& cache) const;
  void upload_metadata(const ops::Context& ctx, const HostStep& step);
  Rows phase_a_rows(const HostStep& step) const;
  Rows phase_b_rows(const HostStep& step) const;
  // The work of a step, as recorded in graphs: Phase A; Phase B and the logits.
  void run_phase_a(const ops::Context& ctx, const Rows& rows, const KvCache& cache, bool& pending);
  void run_phase_b(const ops::Context& ctx, const HostStep& step, const Rows& a, const Rows& b,
                   const KvCache& cache, bool pending);
  void run_layer(const ops::Context& ctx, int64_t layer, const Rows& rows, const KvCache& cache,
                 bool& pending);
  void run_logits(const ops::Context& ctx, const Rows& rows, int64_t num_rows, bool pending);
  void write_swiftkv_cache(const ops::Context& ctx, const Rows& rows, const KvCache& cache,
                           bool normed);
  bool fuses(const Rows& rows) const;  // a one-row step on ops::decode_linear
  bool fuses_lm_head(const Rows& rows, bool pending) const;
  void all_reduce(const ops::Context& ctx, const Tensor& t) const;
  void run_graph(const ops::Context& ctx, GraphKind kind, int64_t padded,
                 const std::function<void()>& body);

  ModelConfig config_;  // the whole model
  TensorParallelShard shard_;
  ModelConfig local_;  // this rank's part (heads, KV heads, intermediate size); config_ when alone
  SwiftKVMode mode_;
  bool swiftkv_active_;
  bool lm_head_fusion_ = false;  // one-row steps' logits on ops::decode_linear (norm fused)
  CudaModelOptions options_;

  // Weights (options_.dtype on the device).
  Tensor embed_tokens_;  // [vocab_size, hidden_size]
  Tensor norm_;
  Tensor lm_head_;  // the embedding when tied
  Tensor norm_swiftkv_;
  Tensor kv_proj_swiftkv_;  // [num_leaders * 2 * kv_width, hidden_size]: k, v of each leader
  std::vector<DeviceLayer> layers_;
  Tensor inv_freq_;  // [head_dim / 2] f32, device
  int64_t num_parameters_ = 0;

  // Activation buffers, allocated once (rows = max_num_batched_tokens unless noted).
  Tensor residual_;      // [rows, hidden_size] the residual stream of Phase A
  Tensor block_out_;     // [rows, hidden_size] the last block's output, not yet added
  Tensor normed_;        // [rows, hidden_size]
  Tensor qkv_;           // [rows, qkv width]
  Tensor attn_;          // [rows, num_heads head_dim]
  Tensor gate_up_;       // [rows, 2 intermediate_size]
  Tensor act_;           // [rows, intermediate_size]
  Tensor kv_swiftkv_;    // [rows, num_leaders * 2 * kv_width] (SwiftKV only)
  Tensor residual_b_;    // [max_num_logits, hidden_size] Phase B / selected rows
  Tensor block_out_b_;   // [max_num_logits, hidden_size]
  Tensor logits_;        // [max_num_logits, vocab_size] f32
  Tensor logits_shard_;  // tensor parallelism: [max_num_logits, vocab shard rows] f32
  Tensor logits_ranks_;  // tensor parallelism: every rank's logits_shard_, rank-major
  Tensor metadata_a_;    // i32 device buffers the graphs read (layouts: StepShape)
  Tensor metadata_b_;
  Tensor token_source_rows_;  // [max_num_seqs, 2] i32: BatchView::token_source_rows on the device

  // Graphs by (kind, padded batch); valid for graph_cache_key_.
  std::map<std::pair<GraphKind, int64_t>, ops::DeviceGraph> graphs_;
  std::vector<const void*> graph_cache_key_;
};

}  // namespace swiftkv
