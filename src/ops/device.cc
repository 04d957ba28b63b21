#include "ops/device.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "kernels/cuda/backend.h"

namespace swiftkv::ops {
namespace {

cuda::CudaContext& cuda_context(const Context& ctx, std::string_view what) {
  if (ctx.backend != Backend::kCuda || ctx.cuda == nullptr) {
    throw Error(str_cat(what, ": needs a kCuda context with ctx.cuda (ops::CudaDevice)"));
  }
  return *ctx.cuda;
}

}  // namespace

bool cuda_available() { return cuda::device_available(); }

CudaDevice::CudaDevice() : ctx_(cuda::create_context().release()) {}

CudaDevice::CudaDevice(int device) : ctx_(cuda::create_context(device).release()) {}

void use_device(const Context& ctx) {
  if (ctx.backend == Backend::kCuda) {
    cuda::use_device(cuda_context(ctx, "use_device"));
  }
}

int cuda_device_count() { return cuda::device_count(); }

CudaDevice::~CudaDevice() { cuda::CudaContextDeleter{}(ctx_); }

std::string CudaDevice::description() const { return cuda::device_description(); }

Tensor device_empty(const Context& ctx, Shape shape, DType dtype) {
  cuda_context(ctx, "device_empty");
  return cuda::device_empty(std::move(shape), dtype);
}

void copy(const Context& ctx, const Tensor& dst, const Tensor& src) {
  if (dst.device() == Device::kCpu && src.device() == Device::kCpu) {
    SWIFTKV_CHECK(dst.shape() == src.shape() && dst.dtype() == src.dtype(), "copy: dst ",
                  shape_str(dst.shape()), " vs src ", shape_str(src.shape()));
    std::copy_n(static_cast<const char*>(src.raw()), src.nbytes(), static_cast<char*>(dst.raw()));
    return;
  }
  cuda::copy(cuda_context(ctx, "copy"), dst, src);
}

void copy_block(const Context& ctx, const Tensor& dst, int64_t dst_row, int64_t dst_col,
                const Tensor& src, int64_t src_row, int64_t src_col, int64_t rows, int64_t cols) {
  cuda::copy_block(cuda_context(ctx, "copy_block"), dst, dst_row, dst_col, src, src_row, src_col,
                   rows, cols);
}

Tensor to_device(const Context& ctx, const Tensor& host) {
  Tensor out = device_empty(ctx, host.shape(), host.dtype());
  copy(ctx, out, host);
  return out;
}

Tensor to_host(const Context& ctx, const Tensor& device) {
  Tensor out = Tensor::empty(device.shape(), device.dtype());
  copy(ctx, out, device);
  return out;
}

PendingDownload download_async(const Context& ctx, const Tensor& device) {
  PendingDownload download;
  download.ticket_ = cuda::start_download(cuda_context(ctx, "download_async"), device);
  download.ctx_ = ctx;
  download.shape_ = device.shape();
  download.dtype_ = device.dtype();
  return download;
}

Tensor PendingDownload::wait() {
  SWIFTKV_CHECK(valid(), "waiting for a download that was not started or already waited for");
  Tensor out = Tensor::empty(shape_, dtype_);
  const int64_t ticket = std::exchange(ticket_, -1);
  cuda::finish_download(cuda_context(ctx_, "PendingDownload::wait"), ticket, out);
  return out;
}

void fill_zero(const Context& ctx, const Tensor& t) {
  cuda::fill_zero(cuda_context(ctx, "fill_zero"), t);
}

void fill_random_uniform(const Context& ctx, const Tensor& t, uint64_t seed, float mean,
                         float half_width) {
  cuda::fill_random_uniform(cuda_context(ctx, "fill_random_uniform"), t, seed, mean, half_width);
}

DeviceMemoryInfo device_memory_info(const Context& ctx) {
  cuda_context(ctx, "device_memory_info");
  const cuda::MemoryInfo info = cuda::memory_info();
  return {.free_bytes = info.free_bytes, .total_bytes = info.total_bytes};
}

void synchronize(const Context& ctx) {
  if (ctx.backend == Backend::kCuda) {
    cuda::synchronize(cuda_context(ctx, "synchronize"));
  }
}

void reserve_attention_workspace(const Context& ctx, int64_t max_tokens, int64_t num_heads,
                                 int64_t num_kv_heads, int64_t head_dim) {
  cuda::reserve_attention_workspace(cuda_context(ctx, "reserve_attention_workspace"), max_tokens,
                                    num_heads, num_kv_heads, head_dim);
}

DeviceGraph DeviceGraph::capture(const Context& ctx, const std::function<void()>& body) {
  cuda::CudaContext& context = cuda_context(ctx, "DeviceGraph::capture");
  cuda::begin_capture(context);
  try {
    body();
  } catch (...) {
    try {
      cuda::end_capture(context);  // leave the stream usable; the partial graph is dropped
    } catch (...) {  // NOLINT(bugprone-empty-catch): the body's error is the one to report
    }
    throw;
  }
  DeviceGraph graph;
  graph.graph_ =
      std::shared_ptr<cuda::Graph>(cuda::end_capture(context).release(), cuda::GraphDeleter{});
  return graph;
}

void DeviceGraph::replay(const Context& ctx) const {
  SWIFTKV_CHECK(graph_ != nullptr, "replay of an empty DeviceGraph");
  cuda::replay(cuda_context(ctx, "DeviceGraph::replay"), *graph_);
}

}  // namespace swiftkv::ops
