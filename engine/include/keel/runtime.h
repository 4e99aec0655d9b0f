// Process-wide runtime settings: CPU thread count, and which GPU backend runs convolutions.
// Same seed and same thread count give bit-identical results on the CPU.
#pragma once

namespace keel {

void set_num_threads(int threads);  // <= 0: all hardware threads
int num_threads();

// True when this build has the CUDA backend and a device is present.
bool cuda_available();
bool cuda_built();
bool cudnn_built();

// The CUDA device's convolution and batch-norm path: keel's own kernels or cuDNN.
enum class GpuBackend { keel, cudnn };
void set_gpu_backend(GpuBackend backend);
GpuBackend gpu_backend();

// TF32 tensor-core math for cuBLAS GEMMs (off by default: results then match fp32 references).
void set_allow_tf32(bool allow);
bool allow_tf32();

// Deterministic GPU reductions (no atomics): two runs give identical weights.
void set_deterministic(bool on);
bool deterministic();

// Waits for queued device work (a no-op on the CPU); benchmarks call it before reading a clock.
void synchronize();

}  // namespace keel
