// The dropout kernel: the Philox mask drawn on the device, the same bits as the CPU's. The launcher
// queues on the given stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

// mask[i] = keep ? scale : 0 with keep = to_uniform(philox(seed, base + i/4).w[i%4]) >= p;
// y = x * mask. One thread per Philox counter (four elements). A captured graph passes live_shift
// (see live_values.cuh), which each replay sets so the base moves on as the generator does.
void launch_dropout_forward(const float* x, float p, float keep_scale, uint64_t seed, uint64_t base,
                            const unsigned long long* live_shift, float* y, float* mask, size_t n,
                            cudaStream_t stream);

}  // namespace keel::cuda
