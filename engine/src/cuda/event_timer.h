// Device-side timing for benchmarks: CUDA events recorded on keel's stream around queued work.
// Plain C++ so benchmarks can include it; declared weak so that a benchmark also built without
// the CUDA backend still links and can test `keel::cuda::time_on_stream_ms != nullptr`.
#pragma once

#include <functional>

namespace keel::cuda {

// Queues `work`, returns the device time between events recorded before and after it, in ms.
[[gnu::weak]] double time_on_stream_ms(const std::function<void()>& work);

}  // namespace keel::cuda
