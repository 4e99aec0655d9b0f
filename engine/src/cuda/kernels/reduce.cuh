// Deterministic reductions: per-channel sums over (N, ·, plane) for batch norm and conv biases, and
// the full sum used by metrics. Two stages with a fixed partition and a fixed summation order (no
// atomics), so a result depends only on the shape, never on scheduling.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kReduceBlock = 256;

// What each element of channel c contributes (x, dy: (N, C, plane); mean, invstd: (C)):
enum class ChannelTerm {
  value,             // v0 = x
  centered_square,   // v0 = (x - mean)²
  bn_backward,       // v0 = dy, v1 = dy · (x - mean) · invstd
};

// Partitions of one channel's N·plane elements; depends only on the shape.
int channel_reduce_parts(int64_t n, int64_t plane);
// partials: (C, parts, 2) floats, written for every channel and part.
void launch_channel_partials(ChannelTerm term, const float* x, const float* dy, const float* mean,
                             const float* invstd, int64_t n, int64_t c, int64_t plane, int parts,
                             float* partials, cudaStream_t stream);
// out[c] = Σ_parts partials[c, part, 0] (summed in double, in order).
void launch_channel_finalize_sum(const float* partials, int64_t c, int parts, float* out,
                                 cudaStream_t stream);
// out[c] = Σ_{n, p} x[n, c, p]; scratch holds c · parts · 2 floats.
void launch_channel_sums(const float* x, int64_t n, int64_t c, int64_t plane, float* scratch, float* out,
                         cudaStream_t stream);

// Blocks of the first stage of the full sum (depends only on count).
int sum_parts(size_t count);
// *out = Σ x in double; partials holds sum_parts(count) doubles.
void launch_sum(const float* x, size_t count, double* partials, double* out, cudaStream_t stream);

}  // namespace keel::cuda
