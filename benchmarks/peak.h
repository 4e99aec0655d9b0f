// The machine's own measured peaks, so benchmarks can say what fraction of it an op reaches instead of
// quoting a datasheet: fp32 FMA throughput (register-resident loop) and memory bandwidth (copy, triad).
//
// CPU: an FMA loop over 12 independent vector accumulators (AVX-512 when the CPU has it, else AVX2,
// chosen at run time so the numbers do not depend on -march), on 1 and N threads; STREAM-style copy
// and triad over arrays far larger than the last-level cache, first-touched by the threads that use
// them. CUDA: the driver API is opened with dlopen (no link dependency, nothing to do on a machine
// without a GPU), a hand-written PTX FMA loop is JIT-compiled for the card present and launched over
// every SM, and a device-to-device copy gives the copy bandwidth. Each figure is the best of several
// runs, which is what "peak" means; an op's fraction of it is then an honest upper-bounded number.
#pragma once

#include <dlfcn.h>
#include <time.h>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "keel/runtime.h"

namespace keel_bench {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Threads the benchmarks use: KEEL_BENCH_THREADS, else every hardware thread.
inline int bench_threads() {
  if (const char* env = std::getenv("KEEL_BENCH_THREADS")) {
    const int t = std::atoi(env);
    if (t > 0) return t;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// ---- CPU FMA loop -------------------------------------------------------------------------------
// 12 accumulators cover an FMA latency of 4 cycles on 2 ports (8 in flight) with room to spare;
// a·b + c with b just under 1 keeps every value finite for any trip count.

#if defined(__x86_64__) || defined(_M_X64)
__attribute__((target("avx512f"))) inline float fma_loop_avx512(int64_t iters, float seed) {
  const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
  __m512 a0 = _mm512_set1_ps(seed), a1 = _mm512_set1_ps(seed + 1), a2 = _mm512_set1_ps(seed + 2),
         a3 = _mm512_set1_ps(seed + 3), a4 = _mm512_set1_ps(seed + 4), a5 = _mm512_set1_ps(seed + 5),
         a6 = _mm512_set1_ps(seed + 6), a7 = _mm512_set1_ps(seed + 7), a8 = _mm512_set1_ps(seed + 8),
         a9 = _mm512_set1_ps(seed + 9), a10 = _mm512_set1_ps(seed + 10), a11 = _mm512_set1_ps(seed + 11);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = _mm512_fmadd_ps(a0, b, c); a1 = _mm512_fmadd_ps(a1, b, c); a2 = _mm512_fmadd_ps(a2, b, c);
    a3 = _mm512_fmadd_ps(a3, b, c); a4 = _mm512_fmadd_ps(a4, b, c); a5 = _mm512_fmadd_ps(a5, b, c);
    a6 = _mm512_fmadd_ps(a6, b, c); a7 = _mm512_fmadd_ps(a7, b, c); a8 = _mm512_fmadd_ps(a8, b, c);
    a9 = _mm512_fmadd_ps(a9, b, c); a10 = _mm512_fmadd_ps(a10, b, c); a11 = _mm512_fmadd_ps(a11, b, c);
  }
  const __m512 s = _mm512_add_ps(
      _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
      _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)),
                    _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) inline float fma_loop_avx2(int64_t iters, float seed) {
  const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
  __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed + 1), a2 = _mm256_set1_ps(seed + 2),
         a3 = _mm256_set1_ps(seed + 3), a4 = _mm256_set1_ps(seed + 4), a5 = _mm256_set1_ps(seed + 5),
         a6 = _mm256_set1_ps(seed + 6), a7 = _mm256_set1_ps(seed + 7), a8 = _mm256_set1_ps(seed + 8),
         a9 = _mm256_set1_ps(seed + 9), a10 = _mm256_set1_ps(seed + 10), a11 = _mm256_set1_ps(seed + 11);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = _mm256_fmadd_ps(a0, b, c); a1 = _mm256_fmadd_ps(a1, b, c); a2 = _mm256_fmadd_ps(a2, b, c);
    a3 = _mm256_fmadd_ps(a3, b, c); a4 = _mm256_fmadd_ps(a4, b, c); a5 = _mm256_fmadd_ps(a5, b, c);
    a6 = _mm256_fmadd_ps(a6, b, c); a7 = _mm256_fmadd_ps(a7, b, c); a8 = _mm256_fmadd_ps(a8, b, c);
    a9 = _mm256_fmadd_ps(a9, b, c); a10 = _mm256_fmadd_ps(a10, b, c); a11 = _mm256_fmadd_ps(a11, b, c);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                                         _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}
#else
// Elsewhere (aarch64) only the portable path exists, which has no measured FMA peak: cpu_fma_isa()
// is "none" and measure_fma_gflops returns before calling these.
inline float fma_loop_avx512(int64_t, float) { return 0.0f; }
inline float fma_loop_avx2(int64_t, float) { return 0.0f; }
#endif

// The FMA peak is that of the vector width keel's CPU kernels run with (keel::cpu_isa(), which
// KEEL_CPU_ISA can force): an op on the avx2 path is measured against 256-bit FMAs even on an
// AVX-512 CPU. The portable path has no measured peak (its width is whatever the compiler chose).
inline bool cpu_has_avx512() { return keel::cpu_isa() == keel::CpuIsa::avx512; }
inline bool cpu_has_avx2() { return keel::cpu_isa() == keel::CpuIsa::avx2 || cpu_has_avx512(); }
inline const char* cpu_fma_isa() { return cpu_has_avx512() ? "avx512" : cpu_has_avx2() ? "avx2" : "none"; }

// Runs fn(thread_index) on `threads` threads that start together; returns the wall time of the slowest.
template <class Fn>
double run_threads(int threads, Fn fn) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      fn(t);
    });
  }
  while (ready.load() < threads) {
  }
  const double t0 = now_s();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  return now_s() - t0;
}

// fp32 GFLOP/s of the FMA loop on `threads` threads (one FMA = 2 flops), best of `runs` short runs:
// on a shared machine other processes lower every run, so many short tries catch the free moments.
inline double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// `oncore` (optional) receives the best per-thread rate per second of that thread's own CPU time:
// what one core does while it runs this thread, which other processes cannot lower (they only take
// turns). On a busy machine it is the steadier figure; wall-clock rates are the ones ops compare to.
inline double measure_fma_gflops(int threads, int runs = 5, double seconds = 0.1, double* oncore = nullptr) {
  const bool avx512 = cpu_has_avx512();
  if (!avx512 && !cpu_has_avx2()) return 0.0;
  const int lanes = avx512 ? 16 : 8;
  auto loop = [avx512](int64_t iters, float seed) {
    return avx512 ? fma_loop_avx512(iters, seed) : fma_loop_avx2(iters, seed);
  };
  // Calibrate the trip count to about `seconds` on one thread.
  int64_t iters = 1 << 16;
  for (;;) {
    const double t0 = now_s();
    volatile float sink = loop(iters, 1.0f);
    (void)sink;
    const double dt = now_s() - t0;
    if (dt > seconds / 4 || iters > (int64_t{1} << 34)) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / std::max(dt, 1e-6));
      break;
    }
    iters *= 4;
  }
  std::vector<float> sinks(static_cast<size_t>(threads) * 16);
  std::vector<double> cpu_s(static_cast<size_t>(threads) * 8);
  const double flops_per_thread = 2.0 * 12 * lanes * static_cast<double>(iters);
  double best = 0.0;
  for (int r = 0; r < runs; ++r) {
    const double dt = run_threads(threads, [&](int t) {
      const double c0 = thread_cpu_s();
      sinks[static_cast<size_t>(t) * 16] = loop(iters, 1.0f + t);
      cpu_s[static_cast<size_t>(t) * 8] = thread_cpu_s() - c0;
    });
    best = std::max(best, flops_per_thread * threads / dt * 1e-9);
    if (oncore) {
      for (int t = 0; t < threads; ++t) {
        const double c = cpu_s[static_cast<size_t>(t) * 8];
        if (c > 0) *oncore = std::max(*oncore, flops_per_thread / c * 1e-9);
      }
    }
  }
  return best;
}

// ---- CPU memory bandwidth -------------------------------------------------------------------------

struct Bandwidth {
  double copy_gbs = 0;   // b = a: 2 × bytes per element (STREAM convention: write-allocate not counted)
  double triad_gbs = 0;  // a = b + s·c: 3 × bytes per element
};

// 3 × 256 MiB: larger than any last-level cache we have seen (this VM reports 480 MiB of L3, shared).
inline Bandwidth measure_bandwidth(int threads, size_t floats = size_t{64} << 20, int runs = 5) {
  std::unique_ptr<float[]> a(new float[floats]), b(new float[floats]), c(new float[floats]);
  const size_t chunk = (floats + static_cast<size_t>(threads) - 1) / static_cast<size_t>(threads);
  auto range = [&](int t) {
    const size_t lo = std::min(floats, chunk * static_cast<size_t>(t));
    return std::pair<size_t, size_t>{lo, std::min(floats, lo + chunk)};
  };
  run_threads(threads, [&](int t) {  // first touch by the owning thread (NUMA placement)
    auto [lo, hi] = range(t);
    for (size_t i = lo; i < hi; ++i) {
      a[i] = 1.0f;
      b[i] = 2.0f;
      c[i] = 0.5f;
    }
  });
  Bandwidth bw;
  const double bytes = static_cast<double>(floats) * sizeof(float);
  for (int r = 0; r < runs; ++r) {
    const double copy_s = run_threads(threads, [&](int t) {
      auto [lo, hi] = range(t);
      std::memcpy(b.get() + lo, a.get() + lo, (hi - lo) * sizeof(float));
    });
    bw.copy_gbs = std::max(bw.copy_gbs, 2.0 * bytes / copy_s * 1e-9);
    const double triad_s = run_threads(threads, [&](int t) {
      auto [lo, hi] = range(t);
      float* __restrict pa = a.get();
      const float* __restrict pb = b.get();
      const float* __restrict pc = c.get();
      for (size_t i = lo; i < hi; ++i) pa[i] = pb[i] + 0.5f * pc[i];
    });
    bw.triad_gbs = std::max(bw.triad_gbs, 3.0 * bytes / triad_s * 1e-9);
  }
  volatile float sink = a[floats / 2] + b[floats / 3];
  (void)sink;
  return bw;
}

struct CpuPeak {
  int threads = 1;
  std::string isa;
  double fma_gflops_1t = 0;
  double fma_gflops_1t_oncore = 0;  // per second of the thread's own CPU time (see measure_fma_gflops)
  double fma_gflops = 0;  // on `threads` threads
  Bandwidth bandwidth;
};

// Measured once per process (about a second), at the benchmarks' thread count.
inline const CpuPeak& cpu_peak() {
  static const CpuPeak peak = [] {
    CpuPeak p;
    p.threads = bench_threads();
    p.isa = cpu_fma_isa();
    p.fma_gflops_1t = measure_fma_gflops(1, 5, 0.1, &p.fma_gflops_1t_oncore);
    p.fma_gflops = p.threads == 1 ? p.fma_gflops_1t : measure_fma_gflops(p.threads);
    p.bandwidth = measure_bandwidth(p.threads);
    return p;
  }();
  return peak;
}

// ---- CUDA device, through the driver API opened at run time ----------------------------------------

struct GpuPeak {
  bool available = false;
  std::string why;  // when not available
  std::string name;
  int sms = 0;
  double fma_gflops = 0;
  double copy_gbs = 0;  // device-to-device copy: read + write bytes
};

// One thread: 8 independent FMA chains, unrolled 4 times (32 FMAs per trip), the sum stored so the
// loop cannot be removed. PTX 7.0 for sm_70 is JIT-compiled by the driver for the card present.
inline const char* kFmaPtx = R"PTX(
.version 7.0
.target sm_70
.address_size 64
.visible .entry keel_fma_loop(.param .u64 out_ptr, .param .u32 iters)
{
  .reg .pred p;
  .reg .b32 i, n, tid, ntid, ctaid, gid;
  .reg .f32 x<8>;
  .reg .f32 b, c, s;
  .reg .b64 addr, off;
  mov.u32 tid, %tid.x;
  mov.u32 ntid, %ntid.x;
  mov.u32 ctaid, %ctaid.x;
  mad.lo.u32 gid, ctaid, ntid, tid;
  cvt.rn.f32.u32 x0, gid;
  add.f32 x1, x0, 0f3F800000;
  add.f32 x2, x1, 0f3F800000;
  add.f32 x3, x2, 0f3F800000;
  add.f32 x4, x3, 0f3F800000;
  add.f32 x5, x4, 0f3F800000;
  add.f32 x6, x5, 0f3F800000;
  add.f32 x7, x6, 0f3F800000;
  mov.f32 b, 0f3F7FFFFE;
  mov.f32 c, 0f33D6BF95;
  ld.param.u32 n, [iters];
  mov.u32 i, 0;
LOOP:
  fma.rn.f32 x0, x0, b, c; fma.rn.f32 x1, x1, b, c; fma.rn.f32 x2, x2, b, c; fma.rn.f32 x3, x3, b, c;
  fma.rn.f32 x4, x4, b, c; fma.rn.f32 x5, x5, b, c; fma.rn.f32 x6, x6, b, c; fma.rn.f32 x7, x7, b, c;
  fma.rn.f32 x0, x0, b, c; fma.rn.f32 x1, x1, b, c; fma.rn.f32 x2, x2, b, c; fma.rn.f32 x3, x3, b, c;
  fma.rn.f32 x4, x4, b, c; fma.rn.f32 x5, x5, b, c; fma.rn.f32 x6, x6, b, c; fma.rn.f32 x7, x7, b, c;
  fma.rn.f32 x0, x0, b, c; fma.rn.f32 x1, x1, b, c; fma.rn.f32 x2, x2, b, c; fma.rn.f32 x3, x3, b, c;
  fma.rn.f32 x4, x4, b, c; fma.rn.f32 x5, x5, b, c; fma.rn.f32 x6, x6, b, c; fma.rn.f32 x7, x7, b, c;
  fma.rn.f32 x0, x0, b, c; fma.rn.f32 x1, x1, b, c; fma.rn.f32 x2, x2, b, c; fma.rn.f32 x3, x3, b, c;
  fma.rn.f32 x4, x4, b, c; fma.rn.f32 x5, x5, b, c; fma.rn.f32 x6, x6, b, c; fma.rn.f32 x7, x7, b, c;
  add.u32 i, i, 1;
  setp.lt.u32 p, i, n;
  @p bra LOOP;
  add.f32 s, x0, x1;
  add.f32 s, s, x2;
  add.f32 s, s, x3;
  add.f32 s, s, x4;
  add.f32 s, s, x5;
  add.f32 s, s, x6;
  add.f32 s, s, x7;
  ld.param.u64 addr, [out_ptr];
  cvta.to.global.u64 addr, addr;
  mul.wide.u32 off, gid, 4;
  add.s64 addr, addr, off;
  st.global.f32 [addr], s;
  ret;
}
)PTX";

namespace driver {
using CUresult = int;
using CUdevice = int;
using CUcontext = void*;
using CUmodule = void*;
using CUfunction = void*;
using CUdeviceptr = unsigned long long;
}  // namespace driver

inline GpuPeak measure_gpu_peak() {
  using namespace driver;
  GpuPeak g;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    g.why = "no CUDA driver (libcuda.so.1 not found)";
    return g;
  }
  auto sym = [lib](const char* name) { return dlsym(lib, name); };
  auto cuInit = reinterpret_cast<CUresult (*)(unsigned)>(sym("cuInit"));
  auto cuDeviceGetCount = reinterpret_cast<CUresult (*)(int*)>(sym("cuDeviceGetCount"));
  auto cuDeviceGet = reinterpret_cast<CUresult (*)(CUdevice*, int)>(sym("cuDeviceGet"));
  auto cuDeviceGetName = reinterpret_cast<CUresult (*)(char*, int, CUdevice)>(sym("cuDeviceGetName"));
  auto cuDeviceGetAttribute = reinterpret_cast<CUresult (*)(int*, int, CUdevice)>(sym("cuDeviceGetAttribute"));
  auto cuDevicePrimaryCtxRetain = reinterpret_cast<CUresult (*)(CUcontext*, CUdevice)>(sym("cuDevicePrimaryCtxRetain"));
  auto cuCtxSetCurrent = reinterpret_cast<CUresult (*)(CUcontext)>(sym("cuCtxSetCurrent"));
  auto cuCtxSynchronize = reinterpret_cast<CUresult (*)()>(sym("cuCtxSynchronize"));
  auto cuModuleLoadData = reinterpret_cast<CUresult (*)(CUmodule*, const void*)>(sym("cuModuleLoadData"));
  auto cuModuleGetFunction = reinterpret_cast<CUresult (*)(CUfunction*, CUmodule, const char*)>(sym("cuModuleGetFunction"));
  auto cuModuleUnload = reinterpret_cast<CUresult (*)(CUmodule)>(sym("cuModuleUnload"));
  auto cuMemAlloc = reinterpret_cast<CUresult (*)(CUdeviceptr*, size_t)>(sym("cuMemAlloc_v2"));
  auto cuMemFree = reinterpret_cast<CUresult (*)(CUdeviceptr)>(sym("cuMemFree_v2"));
  auto cuMemcpyDtoD = reinterpret_cast<CUresult (*)(CUdeviceptr, CUdeviceptr, size_t)>(sym("cuMemcpyDtoD_v2"));
  auto cuLaunchKernel = reinterpret_cast<CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                                                      unsigned, unsigned, void*, void**, void**)>(sym("cuLaunchKernel"));
  if (!cuInit || !cuDeviceGetCount || !cuDeviceGet || !cuDeviceGetName || !cuDeviceGetAttribute ||
      !cuDevicePrimaryCtxRetain || !cuCtxSetCurrent || !cuCtxSynchronize || !cuModuleLoadData ||
      !cuModuleGetFunction || !cuModuleUnload || !cuMemAlloc || !cuMemFree || !cuMemcpyDtoD || !cuLaunchKernel) {
    g.why = "the CUDA driver lacks an entry point this benchmark uses";
    return g;
  }
  int count = 0;
  if (cuInit(0) != 0 || cuDeviceGetCount(&count) != 0 || count == 0) {
    g.why = "no CUDA device";
    return g;
  }
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  char name[256] = {};
  constexpr int kAttrSmCount = 16;  // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
  if (cuDeviceGet(&dev, 0) != 0 || cuDeviceGetName(name, sizeof name, dev) != 0 ||
      cuDeviceGetAttribute(&g.sms, kAttrSmCount, dev) != 0 || cuDevicePrimaryCtxRetain(&ctx, dev) != 0 ||
      cuCtxSetCurrent(ctx) != 0) {
    g.why = "could not open CUDA device 0";
    return g;
  }
  g.name = name;

  // FMA peak: 8 blocks of 256 threads per SM keep every scheduler busy; best of 5 timed launches.
  CUmodule module = nullptr;
  CUfunction fn = nullptr;
  if (cuModuleLoadData(&module, kFmaPtx) != 0 || cuModuleGetFunction(&fn, module, "keel_fma_loop") != 0) {
    g.why = "the FMA kernel's PTX did not load";
    return g;
  }
  const unsigned block = 256, grid = static_cast<unsigned>(g.sms) * 8;
  CUdeviceptr out = 0;
  if (cuMemAlloc(&out, size_t{grid} * block * sizeof(float)) != 0) {
    g.why = "cuMemAlloc failed";
    return g;
  }
  unsigned iters = 1 << 14;
  void* params[] = {&out, &iters};
  auto launch = [&] {
    const double t0 = now_s();
    if (cuLaunchKernel(fn, grid, 1, 1, block, 1, 1, 0, nullptr, params, nullptr) != 0 || cuCtxSynchronize() != 0)
      return -1.0;
    return now_s() - t0;
  };
  if (launch() < 0) {  // warm-up (clocks, JIT cache)
    g.why = "the FMA kernel failed to launch";
    return g;
  }
  for (int r = 0; r < 5; ++r) {
    const double dt = launch();
    if (dt > 0) g.fma_gflops = std::max(g.fma_gflops, 2.0 * 32 * double(iters) * grid * block / dt * 1e-9);
  }
  cuMemFree(out);
  cuModuleUnload(module);

  // Copy bandwidth: 20 device-to-device copies of 512 MiB, timed together.
  const size_t bytes = size_t{512} << 20;
  CUdeviceptr src = 0, dst = 0;
  if (cuMemAlloc(&src, bytes) == 0 && cuMemAlloc(&dst, bytes) == 0) {
    cuMemcpyDtoD(dst, src, bytes);
    cuCtxSynchronize();
    for (int r = 0; r < 3; ++r) {
      const double t0 = now_s();
      for (int i = 0; i < 20; ++i) cuMemcpyDtoD(dst, src, bytes);
      cuCtxSynchronize();
      g.copy_gbs = std::max(g.copy_gbs, 20 * 2.0 * double(bytes) / (now_s() - t0) * 1e-9);
    }
  }
  if (src) cuMemFree(src);
  if (dst) cuMemFree(dst);
  g.available = true;
  return g;
}

inline const GpuPeak& gpu_peak() {
  static const GpuPeak peak = measure_gpu_peak();
  return peak;
}

}  // namespace keel_bench
