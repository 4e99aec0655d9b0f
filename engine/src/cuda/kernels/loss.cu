// Softmax cross-entropy and argmax kernels (see loss.cuh): one thread per row, since the rows are
// short (a handful of classes) and few (a batch); the batch mean is one block in a fixed order.
#include "grid_stride.cuh"
#include "loss.cuh"

#include <cmath>

#include "cuda/check.h"

namespace keel::cuda {

namespace {

__global__ void softmax_ce_rows_kernel(const float* __restrict__ logits, const float* __restrict__ labels,
                                       int64_t n, int64_t k, float* __restrict__ probs,
                                       float* __restrict__ row_loss) {
  const int64_t row = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (row >= n) return;
  const float* z = logits + row * k;
  float* p = probs + row * k;
  float top = z[0];
  for (int64_t j = 1; j < k; ++j) top = fmaxf(top, z[j]);
  double total = 0.0;
  for (int64_t j = 0; j < k; ++j) total += exp(static_cast<double>(z[j] - top));
  for (int64_t j = 0; j < k; ++j) p[j] = static_cast<float>(exp(static_cast<double>(z[j] - top)) / total);
  const float label = labels[row];
  const int64_t cls = static_cast<int64_t>(label);
  if (cls < 0 || cls >= k || static_cast<float>(cls) != label) {
    row_loss[row] = NAN;
    return;
  }
  row_loss[row] = static_cast<float>(log(total) - static_cast<double>(z[cls] - top));
}

__global__ void mean_kernel(const float* __restrict__ values, int64_t n, float* __restrict__ out) {
  __shared__ double shared[kLossBlock];
  double v = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) v += values[i];
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = static_cast<float>(shared[0] / static_cast<double>(n));
}

__global__ void softmax_ce_backward_kernel(const float* __restrict__ probs, const float* __restrict__ labels,
                                           int64_t n, int64_t k, float* __restrict__ dlogits) {
  const float inv_n = 1.0f / static_cast<float>(n);
  const size_t total = static_cast<size_t>(n * k);
  KEEL_GRID_STRIDE(i, total) {
    const int64_t row = static_cast<int64_t>(i / k), col = static_cast<int64_t>(i % k);
    const float target = static_cast<int64_t>(labels[row]) == col ? 1.0f : 0.0f;
    dlogits[i] = (probs[i] - target) * inv_n;
  }
}

__global__ void argmax_rows_kernel(const float* __restrict__ logits, int64_t n, int64_t k,
                                   float* __restrict__ pred) {
  const int64_t row = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (row >= n) return;
  const float* z = logits + row * k;
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (z[j] > z[best]) best = j;
  pred[row] = static_cast<float>(best);
}

unsigned row_grid(int64_t n) { return static_cast<unsigned>((n + kLossBlock - 1) / kLossBlock); }

}  // namespace

void launch_softmax_cross_entropy_forward(const float* logits, const float* labels, int64_t n, int64_t k,
                                          float* probs, float* row_loss, float* loss, cudaStream_t stream) {
  if (n == 0) return;
  softmax_ce_rows_kernel<<<row_grid(n), kLossBlock, 0, stream>>>(logits, labels, n, k, probs, row_loss);
  KEEL_CUDA_CHECK_LAUNCH();
  mean_kernel<<<1, kLossBlock, 0, stream>>>(row_loss, n, loss);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_softmax_cross_entropy_backward(const float* probs, const float* labels, int64_t n, int64_t k,
                                           float* dlogits, cudaStream_t stream) {
  const int64_t total = n * k;
  if (total == 0) return;
  const unsigned grid = static_cast<unsigned>((total + kLossBlock - 1) / kLossBlock);
  softmax_ce_backward_kernel<<<grid < 4096 ? grid : 4096, kLossBlock, 0, stream>>>(probs, labels, n, k,
                                                                                   dlogits);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_argmax_rows(const float* logits, int64_t n, int64_t k, float* pred, cudaStream_t stream) {
  if (n == 0) return;
  argmax_rows_kernel<<<row_grid(n), kLossBlock, 0, stream>>>(logits, n, k, pred);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
