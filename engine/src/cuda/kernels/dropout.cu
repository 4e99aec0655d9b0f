// The dropout kernel (see dropout.cuh): one thread step per Philox counter, four elements each.
#include "dropout.cuh"
#include "elementwise.cuh"
#include "grid_stride.cuh"

#include "common/philox.h"
#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

namespace {

__global__ void dropout_forward_kernel(const float* x, float p, float keep_scale, uint64_t seed,
                                       uint64_t base, const unsigned long long* live_shift,
                                       float* y, float* mask, size_t n) {
  const size_t counters = (n + 3) / 4;
  if (live_shift) base += *live_shift;
  KEEL_GRID_STRIDE(c, counters) {
    const philox::Words w = philox::draw(seed, base + c);
    for (int j = 0; j < 4; ++j) {
      const size_t i = c * 4 + j;
      if (i >= n) break;
      const float m = philox::to_uniform(w.w[j]) >= p ? keep_scale : 0.0f;
      mask[i] = m;
      y[i] = x[i] * m;
    }
  }
}

}  // namespace

void launch_dropout_forward(const float* x, float p, float keep_scale, uint64_t seed, uint64_t base,
                            const unsigned long long* live_shift, float* y, float* mask, size_t n,
                            cudaStream_t stream) {
  if (n == 0) return;
  const size_t counters = (n + 3) / 4;
  dropout_forward_kernel<<<grid_for(counters, kElementwiseBlock), kElementwiseBlock, 0, stream>>>(
      x, p, keep_scale, seed, base, live_shift, y, mask, n);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
