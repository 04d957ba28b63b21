// Device memory, copies and CUDA graphs for the kCuda backend, without CUDA types (they stay in
// src/kernels/cuda). Allocation happens at start-up (weights, KV cache, activation buffers);
// the step loop only copies metadata and enqueues ops or replays graphs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::cuda {
class CudaContext;
class Graph;
}  // namespace swiftkv::cuda

namespace swiftkv::ops {

// True when the CUDA backend is built and a device is visible.
bool cuda_available();

// Owns a CUDA context (one stream, cuBLASLt, attention workspace) and hands out the op
// Context that runs on it. Throws Error when the backend is not built or no device is visible.
// Not thread-safe: one per thread of work.
class CudaDevice {
 public:
  CudaDevice();                     // the calling thread's current device
  explicit CudaDevice(int device);  // device `device` (made the calling thread's current one)
  ~CudaDevice();
  CudaDevice(const CudaDevice&) = delete;
  CudaDevice& operator=(const CudaDevice&) = delete;

  Context context() const { return {.backend = Backend::kCuda, .pool = nullptr, .cuda = ctx_}; }
  std::string description() const;  // "NVIDIA H200, 132 SMs, 139.8 GiB"

 private:
  cuda::CudaContext* ctx_;
};

// Makes ctx's device the calling thread's current CUDA device (kCuda; no-op otherwise). A thread
// that runs ops on a context of another device (a tensor-parallel rank) calls it first.
void use_device(const Context& ctx);
int cuda_device_count();  // visible CUDA devices (0 without the backend)

// Uninitialised device tensor (kCuda contexts only), freed with its last view.
Tensor device_empty(const Context& ctx, Shape shape, DType dtype);
// dst = src (same shape and dtype, host or device on either side; device sides need kCuda),
// ordered on ctx's stream; returns after the copy when dst is on the host.
void copy(const Context& ctx, const Tensor& dst, const Tensor& src);
// The rows x cols block of 2-D src at (src_row, src_col) into 2-D dst at (dst_row, dst_col), same
// dtype, host or device on either side (kCuda), ordered on ctx's stream; a host source must stay
// alive until the stream reaches the copy.
void copy_block(const Context& ctx, const Tensor& dst, int64_t dst_row, int64_t dst_col,
                const Tensor& src, int64_t src_row, int64_t src_col, int64_t rows, int64_t cols);
Tensor to_device(const Context& ctx, const Tensor& host);
Tensor to_host(const Context& ctx, const Tensor& device);

// A device-to-host copy queued on ctx's stream (kCuda) into pinned memory, for a host that goes
// on queueing work: wait() returns the host tensor once the copy has landed. At most 4 downloads
// may be pending per context (an older one's wait() throws Error).
class PendingDownload {
 public:
  PendingDownload() = default;
  bool valid() const { return ticket_ >= 0; }
  Tensor wait();  // once; the download is no longer valid afterwards

 private:
  friend PendingDownload download_async(const Context& ctx, const Tensor& device);
  Context ctx_{};
  int64_t ticket_ = -1;
  Shape shape_{};
  DType dtype_ = DType::kI32;
};
PendingDownload download_async(const Context& ctx, const Tensor& device);
void fill_zero(const Context& ctx, const Tensor& t);
// bf16 or f32 t[i] = mean + half_width * u_i, u_i uniform in [-1, 1) from a counter-based hash of
// (seed, i): reproducible whatever the launch shape. kCuda only.
void fill_random_uniform(const Context& ctx, const Tensor& t, uint64_t seed, float mean,
                         float half_width);
// Free and total bytes of ctx's device (cudaMemGetInfo; other processes' use counts as used).
struct DeviceMemoryInfo {
  int64_t free_bytes = 0;
  int64_t total_bytes = 0;
};
DeviceMemoryInfo device_memory_info(const Context& ctx);
// Waits for the work enqueued on ctx's stream (no-op on the CPU backends).
void synchronize(const Context& ctx);
// Sizes the workspace paged_attention's decode kernel needs for up to max_tokens query rows.
void reserve_attention_workspace(const Context& ctx, int64_t max_tokens, int64_t num_heads,
                                 int64_t num_kv_heads, int64_t head_dim);

// A recorded sequence of ops on one kCuda context: replay() runs them again on the same
// buffers. Capture records, it does not run; the buffers the graph reads must be rewritten in
// place before each replay (never replay with stale metadata).
class DeviceGraph {
 public:
  DeviceGraph() = default;
  // Records what `body` enqueues on ctx's stream.
  static DeviceGraph capture(const Context& ctx, const std::function<void()>& body);
  void replay(const Context& ctx) const;
  bool defined() const { return graph_ != nullptr; }

 private:
  std::shared_ptr<cuda::Graph> graph_;
};

}  // namespace swiftkv::ops
