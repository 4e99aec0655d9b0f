// Process-wide runtime settings: CPU thread count, and which GPU backend runs convolutions.
// Same seed and same thread count give bit-identical results on the CPU.
#pragma once

#include <cstddef>
#include <string_view>

namespace keel {

void set_num_threads(int threads);  // <= 0: all hardware threads
int num_threads();

// The instruction-set path of the CPU kernels. One build carries every path its architecture can
// run (x86-64: avx512, avx2 with FMA and F16C, portable; other architectures: portable, which the
// compiler vectorises for the target's baseline, NEON on aarch64) and picks the best one the CPU
// supports at the first CPU op. The environment variable KEEL_CPU_ISA (read once, at that point)
// or set_cpu_isa() chooses another; a path the CPU lacks is refused. Each path gives the same results
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

// How CPU convolutions with a 3x3 filter, stride 1 and padding 1 run (forward and input
// gradient; the weight gradient is always im2col + GEMM). automatic (the default) takes Winograd
// F(2x2, 3x3) where it does 2.25x fewer multiplications with little padding waste and enough
// channels to amortise its transforms, im2col + GEMM elsewhere; the other two force one method
// wherever it applies (for tests and benchmarks). Both give the same results whatever the thread
// count; they agree with each other within float rounding, not bit for bit.
enum class CpuConvAlgo { automatic, im2col, winograd };
void set_cpu_conv_algo(CpuConvAlgo algo);
CpuConvAlgo cpu_conv_algo();
// "auto", "im2col", "winograd"; anything else throws keel::Error (usage) listing them.
CpuConvAlgo parse_cpu_conv_algo(std::string_view name);

// How CUDA convolutions run on keel's own kernels (GpuBackend::keel). automatic (the default):
// 3x3 stride-1 padding-1 convolutions big enough to pay run as Winograd, F(4x4, 3x3) on planes of
// at least 28x28 and F(2x2, 3x3) below, every other shape as im2col + SGEMM; winograd takes
// Winograd for every such shape, winograd2 / winograd4 force one tile size for them, im2col takes
// im2col for every shape. The environment variable KEEL_CONV_ALGO, read once at the first query,
// gives the starting value; set_gpu_conv_algo() changes it at any time between ops.
enum class GpuConvAlgo { automatic, im2col, winograd, winograd2, winograd4 };
void set_gpu_conv_algo(GpuConvAlgo algo);
GpuConvAlgo gpu_conv_algo();
// "auto", "im2col", "winograd", "winograd2", "winograd4"; anything else throws (usage).
GpuConvAlgo parse_gpu_conv_algo(std::string_view name);

// How a CUDA filter gradient without the input gradient runs on the im2col path: gemm (im2col and
// a GEMM, the default) or direct (cuda/kernels/direct_dw.cu, for filter rows C·R·S up to 160, the
// stem's), which has not been timed against gemm on every card. KEEL_CONV_DW gives the starting
// value as KEEL_CONV_ALGO does.
enum class GpuConvDw { gemm, direct };
void set_gpu_conv_dw(GpuConvDw method);
GpuConvDw gpu_conv_dw();
// "gemm" or "direct"; anything else throws (usage).
GpuConvDw parse_gpu_conv_dw(std::string_view name);

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
