// Inverted dropout on the CUDA device (the twin of cpu/dropout.cpp; the mask's kernel in
// kernels/dropout.cu, the backward multiply in kernels/elementwise.cu).
#include "dropout.cuh"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/graph.h"
#include "cuda/op_util.h"
#include "elementwise.cuh"

namespace keel::cuda {

// Inverted dropout with the CPU's counters: base = gen.reserve(ceil(n / 4)), element i uses word
// i % 4 of counter base + i / 4, so the mask is identical on both devices.
void dropout_forward(const Tensor& x, float p, Generator& gen, Tensor& y, Tensor& mask) {
  y.ensure(x.shape(), Device::cuda);
  mask.ensure(x.shape(), Device::cuda);
  const size_t n = count(x);
  const uint64_t base = gen.reserve((n + 3) / 4);
  launch_dropout_forward(x.data(), p, 1.0f / (1.0f - p), gen.seed(), base, live_dropout_shift(),
                         y.data(), mask.data(), n, stream());
}

void dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) {
  dx.ensure(dy.shape(), Device::cuda);
  launch_multiply(dy.data(), mask.data(), dx.data(), count(dy), stream());
}

}  // namespace keel::cuda
