// cuBLAS opened on first use (dlopen) instead of linked: loading libcublasLt costs about 150 MB of
// resident memory at program start, which a CPU run of a CUDA-enabled build should not pay.
#pragma once

#include <cublas_v2.h>

namespace keel::cuda {

// The cuBLAS entry points keel calls, resolved from libcublas.so.<CUBLAS_VER_MAJOR>.
struct CublasApi {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetWorkspace_v2) set_workspace;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasSgemm_v2) sgemm;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasGetStatusName) status_name;
  decltype(&cublasGetStatusString) status_string;
};

// Loads the library once; throws keel::Error naming the library when it or a symbol is missing.
const CublasApi& cublas_api();

}  // namespace keel::cuda
