// RAII owners of CUDA resources: device memory and streams. Non-copyable, movable.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

namespace swiftkv::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t nbytes);  // cudaMalloc; throws on failure
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), nbytes_(std::exchange(other.nbytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

  void copy_from_host(const void* src, size_t nbytes, cudaStream_t stream);
  void copy_to_host(void* dst, size_t nbytes, cudaStream_t stream) const;

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
};

class Stream {
 public:
  Stream();  // a non-blocking stream
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return stream_; }
  void synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace swiftkv::cuda
