// This machine's measured peaks (see peak.h): fp32 FMA throughput on 1 and N threads, memory
// bandwidth (copy, triad), and on a CUDA device its FMA throughput and copy bandwidth.
// ops_bench reports each op as a fraction of these; run this to see the peaks on their own:
//   build/bin/peak_bench --benchmark_format=json      (KEEL_BENCH_THREADS=N to change N)
#include <string>

#include <benchmark/benchmark.h>

#include "peak.h"

namespace {

using namespace keel_bench;

// Each benchmark runs its measurement once (the measurement repeats internally and keeps the best);
// the wall time Google Benchmark shows is the measurement's own cost, the counters are the result.
void bm_cpu_fma(benchmark::State& state) {
  const int threads = state.range(0) == 0 ? bench_threads() : static_cast<int>(state.range(0));
  double gflops = 0, oncore = 0;
  for (auto _ : state) gflops = measure_fma_gflops(threads, 5, 0.1, &oncore);
  if (gflops == 0) {
    state.SkipWithError("this CPU has neither AVX-512 nor AVX2 with FMA");
    return;
  }
  state.counters["GFLOP/s"] = gflops;
  state.counters["threads"] = threads;
  state.counters["GFLOP/s_per_thread"] = gflops / threads;
  state.counters["GFLOP/s_per_core_oncore"] = oncore;  // per second of a thread's own CPU time
  state.SetLabel(std::string("fp32 FMA, ") + cpu_fma_isa());
}

void bm_cpu_bandwidth(benchmark::State& state) {
  const int threads = state.range(0) == 0 ? bench_threads() : static_cast<int>(state.range(0));
  Bandwidth bw;
  for (auto _ : state) bw = measure_bandwidth(threads);
  state.counters["copy_GB/s"] = bw.copy_gbs;
  state.counters["triad_GB/s"] = bw.triad_gbs;
  state.counters["threads"] = threads;
  state.SetLabel("3 x 256 MiB arrays");
}

void bm_gpu(benchmark::State& state) {
  GpuPeak g;
  for (auto _ : state) g = measure_gpu_peak();
  if (!g.available) {
    state.SkipWithError(("no GPU: " + g.why).c_str());
    return;
  }
  state.counters["fma_GFLOP/s"] = g.fma_gflops;
  state.counters["copy_GB/s"] = g.copy_gbs;
  state.counters["SMs"] = g.sms;
  state.SetLabel(g.name);
}

// Arg 0 means "the benchmarks' thread count" (KEEL_BENCH_THREADS or every hardware thread).
BENCHMARK(bm_cpu_fma)->ArgName("threads")->Arg(1)->Arg(0)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_cpu_bandwidth)->ArgName("threads")->Arg(1)->Arg(0)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_gpu)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
