// keel's CUDA context: device discovery, the one stream, the cuBLAS handle, the row-major GEMM
// helper and the error reporting behind KEEL_CUDA_CHECK / KEEL_CUBLAS_CHECK.
#include "cuda/context.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "cuda/check.h"
#include "cuda/cublas_loader.h"
#include "keel/error.h"
#include "keel/runtime.h"

namespace keel::cuda {

namespace detail {
void throw_cuda_error(cudaError_t status, const char* statement, const char* file, int line) {
  throw Error(ErrorKind::runtime, fmt::format("CUDA error {} ({}) in `{}` at {}:{}", cudaGetErrorName(status),
                                              cudaGetErrorString(status), statement, file, line));
}

void throw_cublas_error(cublasStatus_t status, const char* statement, const char* file, int line) {
  throw Error(ErrorKind::runtime, fmt::format("cuBLAS error {} ({}) in `{}` at {}:{}",
                                              cublas_api().status_name(status), cublas_api().status_string(status),
                                              statement, file, line));
}
}  // namespace detail

namespace {

struct Context {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  int sm_count = 1;
  bool tf32 = false;

  Context() {
    KEEL_CUDA_CHECK(cudaSetDevice(keel::cuda_device()));
    // Non-blocking: the legacy default stream must not serialise keel's work with other libraries'.
    KEEL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    const CublasApi& api = cublas_api();
    KEEL_CUBLAS_CHECK(api.create(&cublas));
    KEEL_CUBLAS_CHECK(api.set_stream(cublas, stream));  // (this resets any workspace: bind it after)
    bind_cublas_workspace(api);
    KEEL_CUBLAS_CHECK(api.set_math_mode(cublas, CUBLAS_DEFAULT_MATH));
    KEEL_CUDA_CHECK(
        cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, keel::cuda_device()));
  }

  // cuBLAS's recommended workspace (32 MiB from Hopper on, 4 MiB before), bound once to a buffer of
  // keel's: left to itself, cuBLAS allocates one inside every CUDA-graph capture instead, which
  // puts memory nodes in the graph and stops cudaGraphExecUpdate from reusing an instantiation.
  void bind_cublas_workspace(const CublasApi& api) {
    int major = 0;
    KEEL_CUDA_CHECK(
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, keel::cuda_device()));
    const size_t bytes = size_t{major >= 9 ? 32u : 4u} << 20;
    void* workspace = nullptr;
    KEEL_CUDA_CHECK(cudaMalloc(&workspace, bytes));
    KEEL_CUBLAS_CHECK(api.set_workspace(cublas, workspace, bytes));
  }
};

// Never destroyed: the CUDA runtime may already be torn down when static destructors run.
Context& context() {
  static Context* instance = new Context();
  return *instance;
}

}  // namespace

cudaStream_t stream() { return context().stream; }

cublasHandle_t cublas() {
  Context& ctx = context();
  const bool want = keel::allow_tf32();
  if (want != ctx.tf32) {
    KEEL_CUBLAS_CHECK(
        cublas_api().set_math_mode(ctx.cublas, want ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    ctx.tf32 = want;
  }
  return ctx.cublas;
}

int multiprocessor_count() { return context().sm_count; }

void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
          const float* b, float beta, float* c) {
  if (m == 0 || n == 0) return;
  // cuBLAS is column-major: a row-major C (m×n) is a column-major Cᵀ, and Cᵀ = op(B)ᵀ op(A)ᵀ.
  const int lda = transpose_a ? m : k;
  const int ldb = transpose_b ? k : n;
  KEEL_CUBLAS_CHECK(cublas_api().sgemm(cublas(), transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a,
                                lda, &beta, c, n));
}

void gemm_strided_batched(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
                          long long stride_a, const float* b, long long stride_b, float beta, float* c,
                          long long stride_c, int batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  // The same column-major reading as gemm: each Cᵀ_i = op(B_i)ᵀ op(A_i)ᵀ.
  const int lda = transpose_a ? m : k;
  const int ldb = transpose_b ? k : n;
  KEEL_CUBLAS_CHECK(cublas_api().sgemm_strided_batched(
      cublas(), transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N, transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha,
      b, ldb, stride_b, a, lda, stride_a, &beta, c, n, stride_c, batch));
}

unsigned grid_for(size_t count, int block) {
  // Grid-stride loops cover the rest; 8 blocks per SM keep every SM busy for big tensors.
  const size_t wanted = (count + static_cast<size_t>(block) - 1) / static_cast<size_t>(block);
  const size_t cap = static_cast<size_t>(multiprocessor_count()) * 8 * 4;
  return static_cast<unsigned>(std::max<size_t>(1, std::min(wanted, cap)));
}

}  // namespace keel::cuda
