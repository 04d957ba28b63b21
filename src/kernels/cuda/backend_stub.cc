// backend.h when SWIFTKV_CUDA is off: the CUDA backend reports itself missing. Every function
// throws Error("CUDA backend not built"), so `--backend cuda` fails with a clear message and the
// device-agnostic code above links unchanged.
#include "core/error.h"
#include "kernels/cuda/backend.h"

namespace swiftkv::cuda {
namespace {

[[noreturn]] void not_built() {
  throw Error("CUDA backend not built (configure with -DSWIFTKV_CUDA=ON on a machine with nvcc)");
}

}  // namespace

class CudaContext {};
class Graph {};
class Communicator {};

void CudaContextDeleter::operator()(CudaContext* context) const { delete context; }
void GraphDeleter::operator()(Graph* graph) const { delete graph; }
void CommunicatorDeleter::operator()(Communicator* communicator) const { delete communicator; }

bool device_available() { return false; }
int device_count() { return 0; }
CudaContextPtr create_context() { not_built(); }
CudaContextPtr create_context(int) { not_built(); }
void use_device(CudaContext&) { not_built(); }
std::vector<CommunicatorPtr> create_nccl_communicators(const std::vector<int>&) { not_built(); }
std::vector<CommunicatorPtr> create_device_local_communicators(int) { not_built(); }
int communicator_rank(const Communicator&) { not_built(); }
int communicator_size(const Communicator&) { not_built(); }
bool communicator_supports_graphs(const Communicator&) { not_built(); }
void all_reduce_sum(CudaContext&, Communicator&, const Tensor&) { not_built(); }
void all_gather(CudaContext&, Communicator&, const Tensor&, const Tensor&) { not_built(); }
void copy_block(CudaContext&, const Tensor&, int64_t, int64_t, const Tensor&, int64_t, int64_t,
                int64_t, int64_t) {
  not_built();
}
std::string device_description() { not_built(); }
Tensor device_empty(Shape, DType) { not_built(); }
void copy(CudaContext&, const Tensor&, const Tensor&) { not_built(); }
int64_t start_download(CudaContext&, const Tensor&) { not_built(); }
void finish_download(CudaContext&, int64_t, const Tensor&) { not_built(); }
void fill_zero(CudaContext&, const Tensor&) { not_built(); }
void fill_random_uniform(CudaContext&, const Tensor&, uint64_t, float, float) { not_built(); }
void synchronize(CudaContext&) { not_built(); }
void reserve_attention_workspace(CudaContext&, int64_t, int64_t, int64_t, int64_t) { not_built(); }
void begin_capture(CudaContext&) { not_built(); }
GraphPtr end_capture(CudaContext&) { not_built(); }
void replay(CudaContext&, const Graph&) { not_built(); }
void embedding(CudaContext&, const Tensor&, const Tensor&, const Tensor&, int64_t) { not_built(); }
void linear(CudaContext&, const Tensor&, const Tensor&, const Tensor&) { not_built(); }
void rms_norm(CudaContext&, const Tensor&, const Tensor&, const Tensor&, float) { not_built(); }
void fused_add_rms_norm(CudaContext&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                        float) {
  not_built();
}
void swiglu(CudaContext&, const Tensor&, const Tensor&, bool) { not_built(); }
void decode_linear(CudaContext&, const DecodeLinearCall&) { not_built(); }
bool decode_linear_supports(int64_t, int64_t) { return false; }
void gather_rows(CudaContext&, const Tensor&, const Tensor&, const Tensor&) { not_built(); }
void copy_tokens(CudaContext&, const Tensor&, const Tensor&, const Tensor&) { not_built(); }
void rope_write_kv_cache(CudaContext&, const RopeWriteArgs&) { not_built(); }
void paged_attention(CudaContext&, const AttentionArgs&) { not_built(); }
bool paged_attention_with_rope(CudaContext&, const AttentionArgs&, const AttentionRopeArgs&) {
  not_built();
}
MemoryInfo memory_info() { not_built(); }
void sample_tokens(CudaContext&, const SampleArgs&) { not_built(); }

}  // namespace swiftkv::cuda
