// Process-wide runtime settings (threads, GPU backend, TF32, determinism).
#include "keel/runtime.h"

#include <thread>

#include <Eigen/Core>
#include <omp.h>

#include "backend.h"
#include "keel/error.h"

namespace keel {

namespace {
int g_threads = 0;
GpuBackend g_gpu_backend = GpuBackend::keel;
bool g_allow_tf32 = false;
bool g_deterministic = false;
int g_cuda_device = 0;
}  // namespace

void set_num_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  g_threads = threads;
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
}

int num_threads() {
  if (g_threads == 0) set_num_threads(0);
  return g_threads;
}

bool cuda_built() {
#if defined(KEEL_HAS_CUDA)
  return true;
#else
  return false;
#endif
}

bool cudnn_built() {
#if defined(KEEL_HAS_CUDNN)
  return true;
#else
  return false;
#endif
}

bool cuda_available() {
#if defined(KEEL_HAS_CUDA)
  return cuda::device_present();
#else
  return false;
#endif
}

void set_gpu_backend(GpuBackend backend) {
  // Refused here, once, so the CUDA ops never meet a choice they cannot follow.
  if (backend == GpuBackend::cudnn && !cudnn_built()) {
    throw Error(ErrorKind::usage,
                "the cudnn GPU backend was selected but this keel build has no cuDNN: install "
                "cuDNN 9 and reconfigure, or select the keel GPU backend (gpu_backend: keel)");
  }
  g_gpu_backend = backend;
}
GpuBackend gpu_backend() { return g_gpu_backend; }
void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }
bool allow_tf32() { return g_allow_tf32; }
void set_cuda_device(int device) { g_cuda_device = device; }
int cuda_device() { return g_cuda_device; }
void set_deterministic(bool on) { g_deterministic = on; }
bool deterministic() { return g_deterministic; }

GpuMemoryStats gpu_memory_stats() {
#if defined(KEEL_HAS_CUDA)
  if (cuda::device_present()) return cuda::memory_stats();
#endif
  return {};
}

void gpu_release_cached_memory() {
#if defined(KEEL_HAS_CUDA)
  if (cuda::device_present()) cuda::release_cached_memory();
#endif
}

GpuStartTimes warm_up_gpu() {
#if defined(KEEL_HAS_CUDA)
  return cuda::warm_up();
#else
  return {};
#endif
}

void synchronize() {
#if defined(KEEL_HAS_CUDA)
  if (cuda::device_present()) cuda::synchronize();
#endif
}

}  // namespace keel
