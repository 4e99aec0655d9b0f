// Checks for every CUDA and cuBLAS call: a failure throws keel::Error naming the statement, the
// file and the line, so a broken launch reads as a message instead of a later, unrelated crash.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace keel::cuda::detail {
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* statement, const char* file,
                                   int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* statement, const char* file,
                                     int line);
}  // namespace keel::cuda::detail

#define KEEL_CUDA_CHECK(statement)                                                         \
  do {                                                                                     \
    cudaError_t keel_status_ = (statement);                                                \
    if (keel_status_ != cudaSuccess)                                                       \
      ::keel::cuda::detail::throw_cuda_error(keel_status_, #statement, __FILE__, __LINE__); \
  } while (0)

#define KEEL_CUBLAS_CHECK(statement)                                                         \
  do {                                                                                       \
    cublasStatus_t keel_status_ = (statement);                                               \
    if (keel_status_ != CUBLAS_STATUS_SUCCESS)                                               \
      ::keel::cuda::detail::throw_cublas_error(keel_status_, #statement, __FILE__, __LINE__); \
  } while (0)

// After every kernel launch: catches bad launch configurations at the launch site.
#define KEEL_CUDA_CHECK_LAUNCH() KEEL_CUDA_CHECK(cudaGetLastError())
