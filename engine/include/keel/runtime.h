// Process-wide runtime settings: CPU thread count, and which GPU backend runs convolutions.
// Same seed and same thread count give bit-identical results on the CPU.
#pragma once

#include <cstddef>
#include <string_view>

namespace keel {

void set_num_threads(int threads);  // <= 0: all hardware threads
int num_threads();

// The instruction-set path of the CPU kernels. One build carries every path its architecture can
// run (x86-64: avx512, avx2 with FMA, portable; other architectures: portable, which the compiler
// vectorises for the target's baseline, NEON on aarch64) and picks the best one the CPU supports
// at the first CPU op. The environment variable KEEL_CPU_ISA (read once, at that point) or
// set_cpu_isa() chooses another; a path the CPU lacks is refused. Each path gives the same results
// whatever the thread count; different paths agree within float rounding, not bit for bit.
enum class CpuIsa { portable, avx2, avx512 };
CpuIsa cpu_isa();                       // the path CPU ops run now
CpuIsa best_cpu_isa();                  // the best path this build and CPU (and OS) support
bool cpu_isa_supported(CpuIsa isa);     // built for this architecture, and the CPU supports it
// Throws keel::Error (usage) naming the paths this machine supports. Not thread-safe: call it
// while no CPU op is running.
void set_cpu_isa(CpuIsa isa);
const char* cpu_isa_name(CpuIsa isa);   // "portable", "avx2", "avx512"
// "portable", "avx2" or "avx512"; anything else throws keel::Error (usage) listing them.
CpuIsa parse_cpu_isa(std::string_view name);

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

// Device memory held by the CUDA caching allocator (all zero without a CUDA device).
struct GpuMemoryStats {
  size_t bytes_in_use = 0;        // blocks held by tensors and scratch buffers
  size_t peak_bytes_in_use = 0;
  size_t bytes_cached = 0;        // freed blocks kept for reuse
  size_t device_allocations = 0;  // cudaMalloc calls so far (flat after a training loop warms up)
  size_t cache_hits = 0;          // requests served from the cache
};
GpuMemoryStats gpu_memory_stats();
// Returns the cached (free) device blocks to the driver.
void gpu_release_cached_memory();

// Starts the CUDA device now: context, stream, cuBLAS and (with the cudnn backend) cuDNN handles,
// which otherwise cost a few hundred milliseconds inside the first training step. Safe to call on
// a background thread while the host prepares data, as long as no other thread uses the device
// meanwhile; returns at once where no GPU is present.
struct GpuStartTimes {
  bool started = false;            // false: no GPU (or a CPU-only build), nothing was done
  double driver_seconds = 0.0;     // loading the driver and finding the devices
  double context_seconds = 0.0;    // creating the device's context
  double libraries_seconds = 0.0;  // the stream, cuBLAS (and cuDNN) handles
  double first_launch_seconds = 0.0;  // the first allocation and kernel launch
  double total() const { return driver_seconds + context_seconds + libraries_seconds + first_launch_seconds; }
};
GpuStartTimes warm_up_gpu();

// The CUDA device keel uses (0 unless set before the first CUDA call): keel::dist::init gives each
// rank of a job the device numbered by its rank on the node.
void set_cuda_device(int device);
int cuda_device();

// Waits for queued device work (a no-op on the CPU); benchmarks call it before reading a clock.
void synchronize();

}  // namespace keel
