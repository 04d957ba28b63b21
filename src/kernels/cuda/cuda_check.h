// CUDA_CHECK: the one check after every CUDA runtime call and kernel launch. Throws
// InternalError with file:line, the failing expression and CUDA's message. CUBLAS_CHECK does the
// same for cuBLAS / cuBLASLt status codes.
#pragma once

#include <cublas_api.h>
#include <cuda_runtime.h>

#include "core/error.h"

namespace swiftkv::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t error, const char* expression, const char* file,
                                   int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* expression,
                                     const char* file, int line);

}  // namespace swiftkv::cuda

#define CUDA_CHECK(expression)                                                                 \
  do {                                                                                         \
    const cudaError_t swiftkv_cuda_status = (expression);                                      \
    if (swiftkv_cuda_status != cudaSuccess) [[unlikely]] {                                     \
      ::swiftkv::cuda::throw_cuda_error(swiftkv_cuda_status, #expression, __FILE__, __LINE__); \
    }                                                                                          \
  } while (false)

// After a kernel launch: catches launch-configuration errors immediately.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

#define CUBLAS_CHECK(expression)                                                                   \
  do {                                                                                             \
    const cublasStatus_t swiftkv_cublas_status = (expression);                                     \
    if (swiftkv_cublas_status != CUBLAS_STATUS_SUCCESS) [[unlikely]] {                             \
      ::swiftkv::cuda::throw_cublas_error(swiftkv_cublas_status, #expression, __FILE__, __LINE__); \
    }                                                                                              \
  } while (false)
