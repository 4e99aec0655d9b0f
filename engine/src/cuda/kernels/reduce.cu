// Deterministic two-stage reductions (see reduce.cuh). Each block reduces its fixed slice through
// shared memory in a fixed tree; the second stage adds the block results in index order.
#include "reduce.cuh"

#include <algorithm>

#include "cuda/check.h"

namespace keel::cuda {

namespace {

// Sums a value over the block in a fixed order; thread 0 gets the result.
template <typename T>
__device__ T block_sum(T value, T* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  return shared[0];
}

// grid: (parts, C). Block (p, c) reduces elements j in [p·len, (p+1)·len) of channel c, where j
// enumerates (n, pixel) pairs.
__global__ void channel_partials_kernel(ChannelTerm term, const float* __restrict__ x,
                                        const float* __restrict__ dy, const float* __restrict__ mean,
                                        const float* __restrict__ invstd, int64_t n, int64_t c,
                                        int64_t plane, int parts, float* __restrict__ partials) {
  __shared__ float shared[kReduceBlock];
  const int64_t ch = blockIdx.y;
  const int part = blockIdx.x;
  const int64_t m = n * plane;
  const int64_t len = (m + parts - 1) / parts;
  const int64_t begin = part * len;
  const int64_t end = min(m, begin + len);
  const float mu = (term == ChannelTerm::value) ? 0.0f : mean[ch];
  const float is = (term == ChannelTerm::bn_backward) ? invstd[ch] : 0.0f;
  float v0 = 0.0f, v1 = 0.0f;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const int64_t image = j / plane;
    const int64_t offset = (image * c + ch) * plane + (j - image * plane);
    const float xv = x[offset];
    if (term == ChannelTerm::value) {
      v0 += xv;
    } else if (term == ChannelTerm::centered_square) {
      const float d = xv - mu;
      v0 += d * d;
    } else {
      const float g = dy[offset];
      v0 += g;
      v1 += g * (xv - mu) * is;
    }
  }
  v0 = block_sum(v0, shared);
  __syncthreads();
  v1 = block_sum(v1, shared);
  if (threadIdx.x == 0) {
    partials[(ch * parts + part) * 2] = v0;
    partials[(ch * parts + part) * 2 + 1] = v1;
  }
}

__global__ void channel_finalize_sum_kernel(const float* partials, int64_t c, int parts, float* out) {
  const int64_t ch = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (ch >= c) return;
  double total = 0.0;
  for (int p = 0; p < parts; ++p) total += partials[(ch * parts + p) * 2];
  out[ch] = static_cast<float>(total);
}

__global__ void sum_partials_kernel(const float* __restrict__ x, size_t count, double* partials) {
  __shared__ double shared[kReduceBlock];
  const size_t len = (count + gridDim.x - 1) / gridDim.x;
  const size_t begin = blockIdx.x * len;
  const size_t end = min(count, begin + len);
  double v = 0.0;
  for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x) v += x[i];
  v = block_sum(v, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = v;
}

__global__ void sum_finalize_kernel(const double* partials, int parts, double* out) {
  __shared__ double shared[kReduceBlock];
  double v = 0.0;
  for (int i = threadIdx.x; i < parts; i += blockDim.x) v += partials[i];
  v = block_sum(v, shared);
  if (threadIdx.x == 0) *out = v;
}

}  // namespace

int channel_reduce_parts(int64_t n, int64_t plane) {
  // About 8192 elements per block (32 per thread): enough blocks to fill a GPU even with few
  // channels, few enough that the second stage stays trivial.
  const int64_t m = n * plane;
  return static_cast<int>(std::clamp<int64_t>((m + 8191) / 8192, 1, 256));
}

void launch_channel_partials(ChannelTerm term, const float* x, const float* dy, const float* mean,
                             const float* invstd, int64_t n, int64_t c, int64_t plane, int parts,
                             float* partials, cudaStream_t stream) {
  if (c == 0) return;
  const dim3 grid(static_cast<unsigned>(parts), static_cast<unsigned>(c));
  channel_partials_kernel<<<grid, kReduceBlock, 0, stream>>>(term, x, dy, mean, invstd, n, c, plane, parts,
                                                             partials);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_channel_finalize_sum(const float* partials, int64_t c, int parts, float* out,
                                 cudaStream_t stream) {
  if (c == 0) return;
  const unsigned grid = static_cast<unsigned>((c + kReduceBlock - 1) / kReduceBlock);
  channel_finalize_sum_kernel<<<grid, kReduceBlock, 0, stream>>>(partials, c, parts, out);
  KEEL_CUDA_CHECK_LAUNCH();
}

void launch_channel_sums(const float* x, int64_t n, int64_t c, int64_t plane, float* scratch, float* out,
                         cudaStream_t stream) {
  const int parts = channel_reduce_parts(n, plane);
  launch_channel_partials(ChannelTerm::value, x, nullptr, nullptr, nullptr, n, c, plane, parts, scratch,
                          stream);
  launch_channel_finalize_sum(scratch, c, parts, out, stream);
}

int sum_parts(size_t count) {
  return static_cast<int>(std::clamp<size_t>((count + 8191) / 8192, 1, 1024));
}

void launch_sum(const float* x, size_t count, double* partials, double* out, cudaStream_t stream) {
  const int parts = sum_parts(count);
  sum_partials_kernel<<<parts, kReduceBlock, 0, stream>>>(x, count, partials);
  KEEL_CUDA_CHECK_LAUNCH();
  sum_finalize_kernel<<<1, kReduceBlock, 0, stream>>>(partials, parts, out);
  KEEL_CUDA_CHECK_LAUNCH();
}

}  // namespace keel::cuda
