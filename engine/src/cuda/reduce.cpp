// Whole-tensor reductions on the CUDA device.
#include "reduce.cuh"
#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"

namespace keel::cuda {

double sum(const Tensor& x) {
  const size_t n = count(x);
  if (n == 0) return 0.0;
  Scratch partials(static_cast<size_t>(sum_parts(n)) * sizeof(double));
  Scratch result(sizeof(double));
  launch_sum(x.data(), n, partials.as<double>(), result.as<double>(), stream());
  double value = 0.0;
  KEEL_CUDA_CHECK(cudaMemcpyAsync(&value, result.as<double>(), sizeof(double),
                                  cudaMemcpyDeviceToHost, stream()));
  KEEL_CUDA_CHECK(cudaStreamSynchronize(stream()));
  return value;
}

}  // namespace keel::cuda
