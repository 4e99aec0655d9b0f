// Live values: what a captured CUDA graph reads from device memory at replay time. A graph freezes
// every kernel argument at capture, so the values that change from one training step to the next
// (dropout's Philox counters, the learning rate and momentum a schedule sets, Adam's bias
// corrections) are written here before each replay; kernels captured with a pointer to them read
// them instead of their by-value arguments.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace keel::cuda {

inline constexpr int kMaxLiveGroups = 8;

// One optimizer parameter group, as the fused update kernels use it.
struct LiveGroupRow {
  float lr;
  float momentum;  // SGD's momentum, AdamW's beta1
  float bias_correction1;
  float bias_correction2;
};

struct LiveValues {
  // Philox counters reserved since the captured step: added to each captured dropout base.
  unsigned long long dropout_shift;
  LiveGroupRow groups[kMaxLiveGroups];
};

// Queues the write of `values` to `dst`. The values travel as a kernel argument, so no host buffer
// has to outlive the call and the host does not wait for the device.
void launch_write_live_values(LiveValues* dst, const LiveValues& values, cudaStream_t stream);

}  // namespace keel::cuda
