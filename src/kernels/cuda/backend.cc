// backend.h on the CUDA kernels of this folder.
#include "kernels/cuda/backend.h"

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "kernels/cuda/communicator.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/decode_linear.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/fused_add_rms_norm.h"
#include "kernels/cuda/gather_rows.h"
#include "kernels/cuda/generic_attention.h"
#include "kernels/cuda/prefill_attention.h"
#include "kernels/cuda/random_fill.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/rope_kv_cache.h"
#include "kernels/cuda/sampling.h"
#include "kernels/cuda/silu_mul.h"

namespace swiftkv::cuda {

class Graph {
 public:
  explicit Graph(cudaGraphExec_t exec) : exec_(exec) {}
  ~Graph() { cudaGraphExecDestroy(exec_); }
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  cudaGraphExec_t exec() const { return exec_; }

 private:
  cudaGraphExec_t exec_;
};

void CudaContextDeleter::operator()(CudaContext* context) const { delete context; }
void GraphDeleter::operator()(Graph* graph) const { delete graph; }
void CommunicatorDeleter::operator()(Communicator* communicator) const { delete communicator; }

namespace {

bool capturing(const CudaContext& context) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(context.stream(), &status));
  return status != cudaStreamCaptureStatusNone;
}

int current_device() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

}  // namespace

CudaContext::CudaContext() : device_(current_device()) {}

namespace {

__nv_bfloat16* bf16(const Tensor& t) { return static_cast<__nv_bfloat16*>(t.raw()); }
float* f32(const Tensor& t) { return static_cast<float*>(t.raw()); }
const int32_t* i32(const Tensor& t) { return t.data<const int32_t>(); }
// The f32 model's tensors (CudaModelOptions::dtype); the op checked that all agree.
bool is_f32(const Tensor& t) { return t.dtype() == DType::kF32; }
// An fp8 KV cache (CudaModelOptions::kv_cache_dtype) under bf16 activations.
bool is_e4m3(const Tensor& t) { return t.dtype() == DType::kF8E4M3; }

}  // namespace

bool device_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

int device_count() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

CudaContextPtr create_context() {
  if (!device_available()) {
    throw Error("no CUDA device is visible");
  }
  return CudaContextPtr(new CudaContext());
}

CudaContextPtr create_context(int device) {
  const int count = device_count();
  if (device < 0 || device >= count) {
    throw Error(str_cat("CUDA device ", device, " is not visible (", count, " device(s))"));
  }
  CUDA_CHECK(cudaSetDevice(device));
  return CudaContextPtr(new CudaContext());
}

void use_device(CudaContext& context) { CUDA_CHECK(cudaSetDevice(context.device())); }

int communicator_rank(const Communicator& communicator) { return communicator.rank(); }
int communicator_size(const Communicator& communicator) { return communicator.size(); }
bool communicator_supports_graphs(const Communicator& communicator) {
  return communicator.supports_graphs();
}
void all_reduce_sum(CudaContext& context, Communicator& communicator, const Tensor& t) {
  communicator.all_reduce_sum(context, t);
}
void all_gather(CudaContext& context, Communicator& communicator, const Tensor& out,
                const Tensor& in) {
  communicator.all_gather(context, out, in);
}

void copy_block(CudaContext& context, const Tensor& dst, int64_t dst_row, int64_t dst_col,
                const Tensor& src, int64_t src_row, int64_t src_col, int64_t rows, int64_t cols) {
  const auto fits = [&](const Tensor& t, int64_t row, int64_t col) {
    return t.rank() == 2 && row >= 0 && col >= 0 && row + rows <= t.dim(0) &&
           col + cols <= t.dim(1);
  };
  SWIFTKV_CHECK(dst.dtype() == src.dtype() && rows >= 0 && cols >= 0 &&
                    fits(dst, dst_row, dst_col) && fits(src, src_row, src_col),
                "copy_block: ", rows, " x ", cols, " from ", shape_str(src.shape()), " at (",
                src_row, ", ", src_col, ") to ", shape_str(dst.shape()), " at (", dst_row, ", ",
                dst_col, ")");
  if (rows == 0 || cols == 0) {
    return;
  }
  const auto element = static_cast<int64_t>(dtype_size(src.dtype()));
  const auto at = [&](const Tensor& t, int64_t row, int64_t col) {
    return static_cast<char*>(t.raw()) + (row * t.dim(1) + col) * element;
  };
  CUDA_CHECK(cudaMemcpy2DAsync(at(dst, dst_row, dst_col), dst.dim(1) * element,
                               at(src, src_row, src_col), src.dim(1) * element, cols * element,
                               rows, cudaMemcpyDefault, context.stream()));
}

std::string device_description() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return str_cat(prop.name, ", ", prop.multiProcessorCount, " SMs, ",
                 static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0), " GiB");
}

Tensor device_empty(Shape shape, DType dtype) {
  const auto nbytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  auto buffer = std::make_shared<DeviceBuffer>(std::max<size_t>(nbytes, 1));
  void* data = buffer->data();
  return Tensor::wrap(data, std::move(shape), dtype, Device::kCuda, std::move(buffer));
}

void copy(CudaContext& context, const Tensor& dst, const Tensor& src) {
  SWIFTKV_CHECK(dst.shape() == src.shape() && dst.dtype() == src.dtype(), "copy: dst ",
                shape_str(dst.shape()), " ", dtype_name(dst.dtype()), " vs src ",
                shape_str(src.shape()), " ", dtype_name(src.dtype()));
  if (src.nbytes() == 0) {
    return;
  }
  const auto nbytes = static_cast<int64_t>(src.nbytes());
  if (src.device() == Device::kCpu && dst.device() == Device::kCuda && nbytes <= kMaxStagedUpload &&
      !capturing(context)) {
    PinnedRing& uploads = context.uploads();
    const int64_t ticket = uploads.acquire(src.nbytes());
    std::memcpy(uploads.data(ticket), src.raw(), src.nbytes());
    CUDA_CHECK(cudaMemcpyAsync(dst.raw(), uploads.data(ticket), src.nbytes(),
                               cudaMemcpyHostToDevice, context.stream()));
    uploads.record(ticket, context.stream());
    return;
  }
  CUDA_CHECK(
      cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDefault, context.stream()));
  if (dst.device() == Device::kCpu) {
    CUDA_CHECK(cudaStreamSynchronize(context.stream()));
  }
}

int64_t start_download(CudaContext& context, const Tensor& device) {
  SWIFTKV_CHECK(device.device() == Device::kCuda, "start_download of a host tensor");
  PinnedRing& downloads = context.downloads();
  const int64_t ticket = downloads.acquire(device.nbytes());
  if (device.nbytes() > 0) {
    CUDA_CHECK(cudaMemcpyAsync(downloads.data(ticket), device.raw(), device.nbytes(),
                               cudaMemcpyDeviceToHost, context.stream()));
  }
  downloads.record(ticket, context.stream());
  return ticket;
}

void finish_download(CudaContext& context, int64_t ticket, const Tensor& host) {
  SWIFTKV_CHECK(host.device() == Device::kCpu, "finish_download into a device tensor");
  PinnedRing& downloads = context.downloads();
  downloads.wait(ticket);
  std::memcpy(host.raw(), downloads.data(ticket), host.nbytes());
}

void fill_zero(CudaContext& context, const Tensor& t) {
  CUDA_CHECK(cudaMemsetAsync(t.raw(), 0, t.nbytes(), context.stream()));
}

void fill_random_uniform(CudaContext& context, const Tensor& t, uint64_t seed, float mean,
                         float half_width) {
  SWIFTKV_CHECK(t.dtype() == DType::kBF16 || t.dtype() == DType::kF32 || is_e4m3(t),
                "fill_random_uniform: ", dtype_name(t.dtype()));
  if (is_f32(t)) {
    fill_random_uniform_f32(context.stream(), f32(t), t.numel(), seed, mean, half_width);
  } else if (is_e4m3(t)) {
    fill_random_uniform_e4m3(context.stream(), static_cast<__nv_fp8_e4m3*>(t.raw()), t.numel(),
                             seed, mean, half_width);
  } else {
    fill_random_uniform_bf16(context.stream(), bf16(t), t.numel(), seed, mean, half_width);
  }
}

void synchronize(CudaContext& context) { CUDA_CHECK(cudaStreamSynchronize(context.stream())); }

void reserve_attention_workspace(CudaContext& context, int64_t max_tokens, int64_t num_heads,
                                 int64_t num_kv_heads, int64_t head_dim) {
  size_t needed = 0;
  for (int64_t n = 1; n <= max_tokens; ++n) {
    needed = std::max(
        needed, decode_attention_workspace_bytes(n, num_heads, num_kv_heads, head_dim,
                                                 decode_attention_num_splits(n, num_kv_heads)));
  }
  if (needed > context.attention_workspace().nbytes()) {
    context.attention_workspace() = DeviceBuffer(needed);
    DeviceBuffer& workspace = context.attention_workspace();
    clear_decode_attention_workspace(context.stream(), workspace.data(), workspace.nbytes());
  }
}

void begin_capture(CudaContext& context) {
  CUDA_CHECK(cudaStreamBeginCapture(context.stream(), cudaStreamCaptureModeThreadLocal));
}

GraphPtr end_capture(CudaContext& context) {
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamEndCapture(context.stream(), &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CUDA_CHECK(status);
  return GraphPtr(new Graph(exec));
}

void replay(CudaContext& context, const Graph& graph) {
  CUDA_CHECK(cudaGraphLaunch(graph.exec(), context.stream()));
}

void embedding(CudaContext& context, const Tensor& out, const Tensor& table, const Tensor& ids,
               int64_t first_row) {
  if (is_f32(table)) {
    embedding_f32(context.stream(), f32(out), f32(table), i32(ids), ids.dim(0), table.dim(1),
                  first_row, table.dim(0));
  } else {
    embedding_bf16(context.stream(), bf16(out), bf16(table), i32(ids), ids.dim(0), table.dim(1),
                   first_row, table.dim(0));
  }
}

void linear(CudaContext& context, const Tensor& out, const Tensor& x, const Tensor& w) {
  context.blas().linear(
      context.stream(),
      {.out = out.raw(),
       .out_type = out.dtype() == DType::kF32 ? GemmOutType::kF32 : GemmOutType::kBF16,
       .x = x.raw(),
       .w = w.raw(),
       .in_type = is_f32(x) ? GemmInType::kF32 : GemmInType::kBF16,
       .num_tokens = x.dim(0),
       .out_features = w.dim(0),
       .in_features = w.dim(1)});
}

void rms_norm(CudaContext& context, const Tensor& out, const Tensor& x, const Tensor& weight,
              float eps) {
  if (is_f32(x)) {
    rms_norm_f32(context.stream(), f32(out), f32(x), f32(weight), x.dim(0), x.dim(1), eps);
  } else {
    rms_norm_bf16(context.stream(), bf16(out), bf16(x), bf16(weight), x.dim(0), x.dim(1), eps);
  }
}

void fused_add_rms_norm(CudaContext& context, const Tensor& out, const Tensor& residual,
                        const Tensor& x, const Tensor& weight, float eps) {
  if (is_f32(x)) {
    fused_add_rms_norm_f32(context.stream(), f32(out), f32(residual), f32(x), f32(weight), x.dim(0),
                           x.dim(1), eps);
  } else {
    fused_add_rms_norm_bf16(context.stream(), bf16(out), bf16(residual), bf16(x), bf16(weight),
                            x.dim(0), x.dim(1), eps);
  }
}

void decode_linear(CudaContext& context, const DecodeLinearCall& call) {
  decode_linear_bf16(
      context.stream(),
      {.out = is_f32(call.out) ? nullptr : bf16(call.out),
       .out_f32 = is_f32(call.out) ? f32(call.out) : nullptr,
       .x = bf16(call.x),
       .w = bf16(call.w),
       .norm_weight = call.input == DecodeLinearInput::kRmsNorm ? bf16(call.norm_weight) : nullptr,
       .n = call.w.dim(0),
       .k = call.w.dim(1),
       .eps = call.eps,
       .input = call.input,
       .accumulate = call.accumulate,
       .swiglu = call.swiglu});
}

void swiglu(CudaContext& context, const Tensor& out, const Tensor& gate_up, bool interleaved) {
  if (is_f32(out)) {
    silu_mul_f32(context.stream(), f32(out), f32(gate_up), out.dim(0), out.dim(1), interleaved);
  } else {
    silu_mul_bf16(context.stream(), bf16(out), bf16(gate_up), out.dim(0), out.dim(1), interleaved);
  }
}

void gather_rows(CudaContext& context, const Tensor& out, const Tensor& x, const Tensor& indices) {
  const int64_t row_bytes = x.dim(0) == 0 ? 0 : static_cast<int64_t>(x.nbytes()) / x.dim(0);
  cuda::gather_rows(context.stream(), out.raw(), x.raw(), i32(indices), indices.dim(0), row_bytes);
}

void copy_tokens(CudaContext& context, const Tensor& ids, const Tensor& source,
                 const Tensor& pairs) {
  cuda::copy_tokens(context.stream(), ids.data<int32_t>(), i32(source), i32(pairs), pairs.dim(0));
}

namespace {

template <typename T, typename TCache = T>
RopeKvCacheArgsT<T, TCache> rope_kernel_args(const RopeWriteArgs& args) {
  const int64_t q_width = args.num_heads * args.head_dim;
  const int64_t kv_width = args.num_kv_heads * args.head_dim;
  T* base = static_cast<T*>(args.qkv.raw());
  const int64_t stride = args.qkv.dim(1);
  return {.q = args.num_heads > 0 ? base : nullptr,
          .q_stride = stride,
          .k = args.num_kv_heads > 0 ? base + q_width : nullptr,
          .v = args.num_kv_heads > 0 ? base + q_width + kv_width : nullptr,
          .kv_stride = stride,
          .k_cache = static_cast<TCache*>(args.k_cache),
          .v_cache = static_cast<TCache*>(args.v_cache),
          .slot_mapping = args.slot_mapping.defined() ? i32(args.slot_mapping) : nullptr,
          .positions = i32(args.positions),
          .inv_freq = args.inv_freq.data<const float>(),
          .num_tokens = args.qkv.dim(0),
          .num_layers = args.num_layers,
          .kv_layer_stride = 2 * kv_width,
          .cache_layer_stride = args.cache_layer_stride,
          .num_heads = args.num_heads,
          .num_kv_heads = args.num_kv_heads,
          .head_dim = args.head_dim};
}

template <typename T, typename TCache = T>
PagedAttentionArgsT<T, TCache> attention_kernel_args(const AttentionArgs& args) {
  const Tensor& cache = args.k_cache;
  return {.out = static_cast<T*>(args.out.raw()),
          .q = static_cast<const T*>(args.q.raw()),
          .q_stride = args.q.rank() == 2 ? args.q.dim(1) : 0,
          .k_cache = static_cast<const TCache*>(args.k_cache.raw()),
          .v_cache = static_cast<const TCache*>(args.v_cache.raw()),
          .query_start_loc = i32(args.query_start_loc),
          .kv_lens = i32(args.kv_lens),
          .block_tables = i32(args.block_tables),
          .num_seqs = args.kv_lens.dim(0),
          .num_tokens = args.out.dim(0),
          .num_heads = args.out.dim(1),
          .num_kv_heads = cache.dim(2),
          .head_dim = cache.dim(3),
          .block_size = cache.dim(1),
          .max_blocks_per_seq = args.block_tables.dim(1),
          .scale = args.scale};
}

template <typename TCache>
bool tensor_core_shape(const PagedAttentionArgsT<__nv_bfloat16, TCache>& a) {
  return (a.head_dim == 64 || a.head_dim == 128) && a.num_heads / a.num_kv_heads <= 16 &&
         (a.q_stride == 0 || a.q_stride % 8 == 0);
}

// bf16 q/out over a TCache cache (bf16 or e4m3): the tensor-core decode or prefill kernel, or
// the generic one for shapes they do not take.
template <typename TCache>
void paged_attention_bf16(CudaContext& context, const AttentionArgs& args) {
  const PagedAttentionArgsT<__nv_bfloat16, TCache> a =
      attention_kernel_args<__nv_bfloat16, TCache>(args);
  if (!tensor_core_shape(a)) {
    generic_attention_bf16(context.stream(), a);
  } else if (args.use_decode_kernel) {
    const int num_splits = decode_attention_num_splits(a.num_tokens, a.num_kv_heads);
    DeviceBuffer& workspace = context.attention_workspace();
    decode_attention_bf16(context.stream(), a, num_splits, workspace.data(), workspace.nbytes());
  } else {
    prefill_attention_bf16(context.stream(), a);
  }
}

}  // namespace

void rope_write_kv_cache(CudaContext& context, const RopeWriteArgs& args) {
  if (is_f32(args.qkv)) {
    rope_write_kv_cache_f32(context.stream(), rope_kernel_args<float>(args));
  } else if (args.k_cache != nullptr && args.cache_dtype == DType::kF8E4M3) {
    rope_write_kv_cache_bf16(context.stream(),
                             rope_kernel_args<__nv_bfloat16, __nv_fp8_e4m3>(args));
  } else {
    rope_write_kv_cache_bf16(context.stream(), rope_kernel_args<__nv_bfloat16>(args));
  }
}

void paged_attention(CudaContext& context, const AttentionArgs& args) {
  if (is_f32(args.out)) {
    // The f32 model: the mma.sync prefill and decode kernels are bf16-only (tensor-core tiles of
    // bf16), so every head size goes to the generic kernel (f32 CUDA cores; slow for large
    // models, exact for the small ones f32 serving is for).
    generic_attention_f32(context.stream(), attention_kernel_args<float>(args));
  } else if (is_e4m3(args.k_cache)) {
    paged_attention_bf16<__nv_fp8_e4m3>(context, args);
  } else {
    paged_attention_bf16<__nv_bfloat16>(context, args);
  }
}

bool paged_attention_with_rope(CudaContext& context, const AttentionArgs& args,
                               const AttentionRopeArgs& rope) {
  if (is_f32(args.out) || is_e4m3(args.k_cache) || !args.use_decode_kernel ||
      args.out.dim(0) != 1) {
    return false;
  }
  const PagedAttentionArgs a = attention_kernel_args<__nv_bfloat16>(args);
  if (!tensor_core_shape(a)) {
    return false;
  }
  const int num_splits = decode_attention_num_splits(a.num_tokens, a.num_kv_heads);
  DeviceBuffer& workspace = context.attention_workspace();
  decode_attention_rope_bf16(context.stream(), a,
                             {.positions = i32(rope.positions),
                              .inv_freq = rope.inv_freq.data<const float>(),
                              .kv_column = rope.kv_column},
                             num_splits, workspace.data(), workspace.nbytes());
  return true;
}

MemoryInfo memory_info() {
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {.free_bytes = static_cast<int64_t>(free_bytes),
          .total_bytes = static_cast<int64_t>(total_bytes)};
}

void sample_tokens(CudaContext& context, const SampleArgs& args) {
  sample_tokens(context.stream(),
                SamplingArgs{.tokens = args.tokens.data<int32_t>(),
                             .logits = args.logits.data<const float>(),
                             .logits_stride = args.logits.dim(1),
                             .num_rows = args.logits.dim(0),
                             .vocab_size = args.logits.dim(1),
                             .temperatures = args.temperatures.data<const float>(),
                             .top_k = args.top_k.data<const int32_t>(),
                             .top_p = args.top_p.data<const float>(),
                             .min_p = args.min_p.data<const float>(),
                             .seeds = static_cast<const uint64_t*>(args.seeds.raw()),
                             .offsets = static_cast<const uint64_t*>(args.offsets.raw())});
}

}  // namespace swiftkv::cuda
