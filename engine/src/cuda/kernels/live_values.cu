// The live-values write (see live_values.cuh): one thread copies its by-value argument.
#include "live_values.cuh"

#include "cuda/check.h"

namespace keel::cuda {

namespace {
__global__ void write_live_values_kernel(LiveValues* dst, LiveValues values) { *dst = values; }
}  // namespace

void launch_write_live_values(LiveValues* dst, const LiveValues& values, cudaStream_t stream) {
  write_live_values_kernel<<<1, 1, 0, stream>>>(dst, values);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
