// The CUDA backend as src/ops sees it: plain C++ with no CUDA types, so the op layer and the
// model above it stay device-agnostic (DESIGN.md §2). Built from backend.cc and the kernels of
// this folder when SWIFTKV_CUDA is on; otherwise backend_stub.cc, whose every function throws
// Error("CUDA backend not built").
//
// Tensors passed here are device tensors already checked by the op (shapes, dtypes, devices);
// these functions only translate them into kernel arguments and enqueue work on the context's
// stream. Nothing here allocates device memory except device_empty() and
// reserve_attention_workspace(), which the model calls at start-up, never in the step loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/cuda/decode_linear_input.h"

namespace swiftkv::cuda {

// A stream, a cuBLASLt handle with its plan cache, and the decode-attention workspace
// (defined in context.h). One per thread of work; not thread-safe.
class CudaContext;
struct CudaContextDeleter {
  void operator()(CudaContext* context) const;
};
using CudaContextPtr = std::unique_ptr<CudaContext, CudaContextDeleter>;

// An instantiated CUDA graph (defined in backend.cc).
class Graph;
struct GraphDeleter {
  void operator()(Graph* graph) const;
};
using GraphPtr = std::unique_ptr<Graph, GraphDeleter>;

// True when the backend is built and a device is visible.
bool device_available();
int device_count();  // 0 when the backend is not built
// A context on the current device; throws Error when the backend is not built or no device.
CudaContextPtr create_context();
// A context on device `device` (made the calling thread's current device).
CudaContextPtr create_context(int device);
// Makes the context's device the calling thread's current device (each thread that enqueues on
// a context of another device than its current one calls this first).
void use_device(CudaContext& context);
// A short description of the device ("NVIDIA H200, 132 SMs, 139.8 GiB").
std::string device_description();

// ---- memory --------------------------------------------------------------------------------
// Uninitialised device memory (cudaMalloc, 256-byte aligned), freed with its last view.
Tensor device_empty(Shape shape, DType dtype);
// Copies src into dst (same shape and dtype; host or device on either side), ordered on the
// context's stream; returns after the copy when dst is on the host. A host source of up to
// kMaxStagedUpload bytes is staged through pinned memory, so the call never waits for the stream.
void copy(CudaContext& context, const Tensor& dst, const Tensor& src);
inline constexpr int64_t kMaxStagedUpload = int64_t{16} << 20;
// Queues a copy of device tensor `device` into pinned host memory and returns its ticket;
// finish_download waits for it and copies the bytes into `host` (same byte size). At most
// CudaContext::kDownloadSlots downloads may be pending; an older ticket throws Error.
int64_t start_download(CudaContext& context, const Tensor& device);
void finish_download(CudaContext& context, int64_t ticket, const Tensor& host);
void fill_zero(CudaContext& context, const Tensor& t);
// Counter-based random fill of a bf16, f32 or fp8_e4m3 tensor: element i = mean + half_width *
// u, u uniform in [-1, 1) from a SplitMix64 hash of (seed, i), rounded to the dtype.
// Reproducible, independent of launch shape.
void fill_random_uniform(CudaContext& context, const Tensor& t, uint64_t seed, float mean,
                         float half_width);
void synchronize(CudaContext& context);
// Sizes the decode-attention workspace for up to max_tokens query rows (all split counts
// decode_attention_num_splits can choose). Allocates; call at start-up.
void reserve_attention_workspace(CudaContext& context, int64_t max_tokens, int64_t num_heads,
                                 int64_t num_kv_heads, int64_t head_dim);

// ---- CUDA graphs ---------------------------------------------------------------------------
// Work enqueued on the context's stream between begin_capture and end_capture is recorded, not
// run; replay() runs it again with the same pointers (refresh the buffers it reads first).
void begin_capture(CudaContext& context);
GraphPtr end_capture(CudaContext& context);
void replay(CudaContext& context, const Graph& graph);

// ---- kernels (contracts: the op of the same name in src/ops) ---------------------------------
// Activations, weights and caches are all bf16 (the default model) or all f32 (the f32 model,
// CudaModelOptions::dtype); each function picks its kernel by the tensors' dtype. Under bf16 the
// KV cache may instead be fp8_e4m3 (CudaModelOptions::kv_cache_dtype): the RoPE cache write
// and paged attention pick their e4m3 kernels by the cache's dtype.
// first_row: the table is the vocabulary shard starting there; other ids give zero rows.
void embedding(CudaContext& context, const Tensor& out, const Tensor& table, const Tensor& ids,
               int64_t first_row = 0);
void linear(CudaContext& context, const Tensor& out, const Tensor& x, const Tensor& w);
void rms_norm(CudaContext& context, const Tensor& out, const Tensor& x, const Tensor& weight,
              float eps);
void fused_add_rms_norm(CudaContext& context, const Tensor& out, const Tensor& residual,
                        const Tensor& x, const Tensor& weight, float eps);
void swiglu(CudaContext& context, const Tensor& out, const Tensor& gate_up, bool interleaved);
// One token's projection with its input transform and residual add (ops/decode_linear.h).
struct DecodeLinearCall {
  Tensor out;
  Tensor x;
  Tensor w;
  DecodeLinearInput input = DecodeLinearInput::kAsIs;
  Tensor norm_weight;
  float eps = 0.0F;
  bool accumulate = false;
  bool swiglu = false;
};
void decode_linear(CudaContext& context, const DecodeLinearCall& call);
// Whether decode_linear takes an [n, k] weight (false when the backend is not built).
bool decode_linear_supports(int64_t n, int64_t k);
void gather_rows(CudaContext& context, const Tensor& out, const Tensor& x, const Tensor& indices);
void copy_tokens(CudaContext& context, const Tensor& ids, const Tensor& source,
                 const Tensor& pairs);

// RoPE on the fused projection output qkv [num_tokens, num_heads * head_dim + num_layers * 2 *
// num_kv_heads * head_dim] in place, and the write of each layer's (k, v) into cache layer i at
// k_cache + i * cache_layer_stride elements (likewise v_cache). k_cache null: no write.
struct RopeWriteArgs {
  Tensor qkv;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t num_layers = 1;
  Tensor positions;
  Tensor inv_freq;
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  DType cache_dtype = DType::kBF16;  // the caches' elements: qkv's dtype, or fp8_e4m3 under bf16
  int64_t cache_layer_stride = 0;    // elements of cache_dtype
  Tensor slot_mapping;
};
void rope_write_kv_cache(CudaContext& context, const RopeWriteArgs& args);

// Paged attention; q is [num_tokens, num_heads, head_dim] or a fused [num_tokens, width]
// projection output whose first num_heads * head_dim columns are q. use_decode_kernel picks the
// split-KV decode kernel (few query rows per sequence) over the prefill kernel.
struct AttentionArgs {
  Tensor out;  // [num_tokens, num_heads, head_dim]
  Tensor q;
  Tensor k_cache;  // [num_blocks, block_size, num_kv_heads, head_dim], q's dtype or fp8_e4m3
  Tensor v_cache;
  Tensor query_start_loc;
  Tensor kv_lens;
  Tensor block_tables;
  float scale = 0.0F;
  bool use_decode_kernel = false;
};
void paged_attention(CudaContext& context, const AttentionArgs& args);

// RoPE fused into paged attention (ops::paged_attention_with_rope): q, and k when kv_column >=
// 0, rotated inside the decode kernel, k and v written into the caches there. Runs and returns
// true for a one-row decode step (use_decode_kernel, one query row) on bf16 q and caches of a
// shape the tensor-core kernel takes; otherwise runs nothing and returns false.
struct AttentionRopeArgs {
  Tensor positions;        // [num_tokens] i32
  Tensor inv_freq;         // [head_dim / 2] f32
  int64_t kv_column = -1;  // the row's own k in q's row, v num_kv_heads * head_dim later
};
bool paged_attention_with_rope(CudaContext& context, const AttentionArgs& args,
                               const AttentionRopeArgs& rope);

// ---- collectives (tensor parallelism; contracts in communicator.h) --------------------------
class Communicator;
struct CommunicatorDeleter {
  void operator()(Communicator* communicator) const;
};
using CommunicatorPtr = std::unique_ptr<Communicator, CommunicatorDeleter>;
// One NCCL communicator per device (ncclCommInitAll), rank i on devices[i].
std::vector<CommunicatorPtr> create_nccl_communicators(const std::vector<int>& devices);
// `size` ranks on one device, for tests on a single GPU: host-synchronous, no graphs.
std::vector<CommunicatorPtr> create_device_local_communicators(int size);
int communicator_rank(const Communicator& communicator);
int communicator_size(const Communicator& communicator);
bool communicator_supports_graphs(const Communicator& communicator);
void all_reduce_sum(CudaContext& context, Communicator& communicator, const Tensor& t);
void all_gather(CudaContext& context, Communicator& communicator, const Tensor& out,
                const Tensor& in);
// The rows x cols block of 2-D src at (src_row, src_col) into 2-D dst at (dst_row, dst_col),
// same dtype, host or device on either side; enqueued on the context's stream (a host source
// must stay alive until the stream reaches the copy).
void copy_block(CudaContext& context, const Tensor& dst, int64_t dst_row, int64_t dst_col,
                const Tensor& src, int64_t src_row, int64_t src_col, int64_t rows, int64_t cols);

// ---- engine support ------------------------------------------------------------------------
// Free and total bytes of the current device (cudaMemGetInfo), for KV cache planning.
struct MemoryInfo {
  int64_t free_bytes = 0;
  int64_t total_bytes = 0;
};
MemoryInfo memory_info();

// One token per row of logits (contract: sampling.h, sample_tokens). Per-row parameters are
// device arrays; seeds and offsets hold each row's uint64 as two i32 (little-endian).
struct SampleArgs {
  Tensor tokens;        // [num_rows] i32, out
  Tensor logits;        // [num_rows, vocab_size] f32
  Tensor temperatures;  // [num_rows] f32
  Tensor top_k;         // [num_rows] i32
  Tensor top_p;         // [num_rows] f32
  Tensor min_p;         // [num_rows] f32
  Tensor seeds;         // [num_rows, 2] i32
  Tensor offsets;       // [num_rows, 2] i32
};
void sample_tokens(CudaContext& context, const SampleArgs& args);

}  // namespace swiftkv::cuda
