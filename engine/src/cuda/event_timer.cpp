// CUDA-event timing on keel's stream (see event_timer.h).
#include "cuda/event_timer.h"

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/context.h"

namespace keel::cuda {

double time_on_stream_ms(const std::function<void()>& work) {
  cudaEvent_t start = nullptr, stop = nullptr;
  KEEL_CUDA_CHECK(cudaEventCreate(&start));
  KEEL_CUDA_CHECK(cudaEventCreate(&stop));
  KEEL_CUDA_CHECK(cudaEventRecord(start, stream()));
  work();
  KEEL_CUDA_CHECK(cudaEventRecord(stop, stream()));
  KEEL_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0.0f;
  KEEL_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  KEEL_CUDA_CHECK(cudaEventDestroy(start));
  KEEL_CUDA_CHECK(cudaEventDestroy(stop));
  return static_cast<double>(ms);
}

}  // namespace keel::cuda
