// Device start-up on demand: the CUDA context, keel's stream, the cuBLAS handle (cuBLAS is opened
// here), the cuDNN handle when that backend is selected, and the first kernel launch each cost tens
// to hundreds of milliseconds the first time. warm_up() pays them at a moment the caller chooses,
// typically on a background thread while the host parses CSVs and builds images, and says how long
// each part took, since on a cloud VM start-up can cost more than a small model's training.
#include <cuda_runtime.h>

#include "common/stopwatch.h"
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "keel/runtime.h"
#if defined(KEEL_HAS_CUDNN)
#include "cudnn/handle.h"
#endif

namespace keel::cuda {

GpuStartTimes warm_up() {
  GpuStartTimes t;
  Stopwatch clock;
  if (!device_present()) return t;
  t.driver_seconds = clock.lap();
  KEEL_CUDA_CHECK(cudaSetDevice(keel::cuda_device()));
  KEEL_CUDA_CHECK(cudaFree(nullptr));  // forces the primary context into existence
  t.context_seconds = clock.lap();
  (void)cublas();  // keel's stream and the cuBLAS handle (the library is opened here)
#if defined(KEEL_HAS_CUDNN)
  if (keel::gpu_backend() == GpuBackend::cudnn) (void)cudnn::handle();
#endif
  t.libraries_seconds = clock.lap();
  // One allocation and one launch: the allocator's first cudaMalloc and the module load of the
  // fill kernel happen here rather than in the first training step.
  constexpr size_t kCount = 256;
  float* probe = allocate(kCount);
  fill(probe, kCount, 0.0f);
  synchronize();
  release(probe, kCount);
  t.first_launch_seconds = clock.lap();
  t.started = true;
  return t;
}

}  // namespace keel::cuda
