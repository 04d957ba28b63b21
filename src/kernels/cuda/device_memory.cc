#include "kernels/cuda/device_memory.h"

#include <cublasLt.h>

#include "kernels/cuda/cuda_check.h"

namespace swiftkv::cuda {

void throw_cuda_error(cudaError_t error, const char* expression, const char* file, int line) {
  throw InternalError(str_cat("CUDA error at ", file, ":", line, ": ", expression, " -> ",
                              cudaGetErrorName(error), " (", cudaGetErrorString(error), ")"));
}

void throw_cublas_error(cublasStatus_t status, const char* expression, const char* file, int line) {
  throw InternalError(str_cat("cuBLAS error at ", file, ":", line, ": ", expression, " -> ",
                              cublasLtGetStatusName(status), " (", cublasLtGetStatusString(status),
                              ")"));
}

DeviceBuffer::DeviceBuffer(size_t nbytes) : nbytes_(nbytes) {
  if (nbytes > 0) {
    CUDA_CHECK(cudaMalloc(&data_, nbytes));
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) {
    cudaFree(data_);  // no throw from a destructor; a failure here means the context is gone
  }
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) {
      cudaFree(data_);
    }
    data_ = std::exchange(other.data_, nullptr);
    nbytes_ = std::exchange(other.nbytes_, 0);
  }
  return *this;
}

void DeviceBuffer::copy_from_host(const void* src, size_t nbytes, cudaStream_t stream) {
  SWIFTKV_CHECK(nbytes <= nbytes_, "copy of ", nbytes, " bytes into a buffer of ", nbytes_);
  CUDA_CHECK(cudaMemcpyAsync(data_, src, nbytes, cudaMemcpyHostToDevice, stream));
}

void DeviceBuffer::copy_to_host(void* dst, size_t nbytes, cudaStream_t stream) const {
  SWIFTKV_CHECK(nbytes <= nbytes_, "copy of ", nbytes, " bytes from a buffer of ", nbytes_);
  CUDA_CHECK(cudaMemcpyAsync(dst, data_, nbytes, cudaMemcpyDeviceToHost, stream));
}

Stream::Stream() { CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }

Stream::~Stream() {
  if (stream_ != nullptr) {
    cudaStreamDestroy(stream_);
  }
}

void Stream::synchronize() const { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace swiftkv::cuda
