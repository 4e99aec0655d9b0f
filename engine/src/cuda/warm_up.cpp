// Device start-up on demand: the CUDA context, keel's stream, the cuBLAS handle (cuBLAS is opened
// here), the cuDNN handle when that backend is selected, and the first kernel launch each cost tens
// to hundreds of milliseconds the first time. warm_up() pays them at a moment the caller chooses,
// typically on a background thread while the host parses CSVs and builds images, and says how long
// each part took, since on a cloud VM start-up can cost more than a small model's training.
#include <chrono>

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "keel/runtime.h"
#if defined(KEEL_HAS_CUDNN)
#include "cudnn/handle.h"
#endif

namespace keel::cuda {

namespace {
class Lap {
 public:
  double seconds() {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};
}  // namespace

GpuStartTimes warm_up() {
  GpuStartTimes t;
  Lap lap;
  if (!device_present()) return t;
  t.driver_seconds = lap.seconds();
  KEEL_CUDA_CHECK(cudaSetDevice(0));
  KEEL_CUDA_CHECK(cudaFree(nullptr));  // forces the primary context into existence
  t.context_seconds = lap.seconds();
  (void)cublas();  // keel's stream and the cuBLAS handle (the library is opened here)
#if defined(KEEL_HAS_CUDNN)
  if (keel::gpu_backend() == GpuBackend::cudnn) (void)cudnn::handle();
#endif
  t.libraries_seconds = lap.seconds();
  // One allocation and one launch: the allocator's first cudaMalloc and the module load of the
  // fill kernel happen here rather than in the first training step.
  constexpr size_t kCount = 256;
  float* probe = allocate(kCount);
  fill(probe, kCount, 0.0f);
  synchronize();
  release(probe, kCount);
  t.first_launch_seconds = lap.seconds();
  t.started = true;
  return t;
}

}  // namespace keel::cuda
