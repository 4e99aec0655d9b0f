// Every op of keel, forward and backward, at the small CNN's shapes (batch 64) and at ResNet-34's
// (batch 16 on the CPU, 64 on CUDA), on the CPU and on CUDA when a device is present, each reported
// against this machine's own measured peak (peak.h, measured once at start and written into the
// JSON context): GFLOP/s and pct_fma_peak for the compute-bound ops (convolutions, their GEMMs,
// linear layers), GB/s and pct_bw_peak for the memory-bound ones.
//
// Conventions, so the percentages mean something:
// - FLOPs count 2 per multiply-add of the mathematical op (conv: 2·N·K·C·R·S·H'·W' per GEMM; the
//   backward counts one GEMM for dw and one for dx when dx is wanted), nothing for im2col or
//   packing.
// - A convolution that runs as Winograd (keel::CpuConvAlgo) does fewer multiplications than the
//   direct one it is credited with: its GFLOP/s are an equivalent rate and may pass the peak.
// - Bytes count the compulsory traffic only: every input read once, every output written once
//   (e.g. ReLU backward reads y and dy and writes dx: 3 × 4 bytes per element). An op that makes
//   two passes over its input (batch norm) therefore shows less than its real traffic.
// - CPU peaks are on the benchmarks' thread count (KEEL_BENCH_THREADS, default every hardware
//   thread); the bandwidth peak is the triad's. CUDA peaks are the card's FMA loop and D2D copy.
// - CUDA times are device times from CUDA events on keel's stream; CPU times are wall clock.
//
// - The rows "<device>/cases/<case>/{fwd,bwd}" time every case of the op-case table the tests use
//   (tests/op_cases/op_cases.h), at its own shapes: its bytes are every operand and output once,
//   its FLOPs (convolution, linear) those of the case, twice in the backward pass where both the
//   input's and the weights' gradients are computed. A backward row runs the backward pass alone,
//   on the forward pass's saved outputs. Ops that update state in place (running statistics,
//   optimizer moments) run on a copy, and the copy is timed with them. The shapes are small, so
//   their data sits in cache: a bandwidth percentage there may pass 100.
//
//   build/bin/ops_bench --benchmark_filter='cpu/small'            the small CNN's ops on the CPU
//   build/bin/ops_bench --benchmark_filter='cpu/cases/conv2d'     the table's convolutions
//   build/bin/ops_bench --benchmark_filter='gemm|conv' --benchmark_format=json
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "cpu/isa.h"
#include "cuda/event_timer.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "keel/tensor.h"
#include "op_cases/op_cases.h"
#include "peak.h"

namespace {

using keel::Conv2dArgs;
using keel::Device;
using keel::Generator;
using keel::Pool2dArgs;
using keel::Shape;
using keel::Tensor;

// What a case prepares: the work of one iteration and how much arithmetic and traffic it is.
struct Work {
  std::function<void()> run;
  double flops = 0;  // > 0: compute-bound, reported against the FMA peak
  double bytes = 0;  // > 0 and flops == 0: reported against the bandwidth peak
};

using Maker = std::function<Work(Device, int64_t batch)>;

constexpr double kF = sizeof(float);

Tensor rand_tensor(Shape s, Generator& gen, Device d, float lo = -1.0f, float hi = 1.0f) {
  return Tensor::uniform(std::move(s), lo, hi, gen, d);
}

// ---- the benchmark body, shared by every case ---------------------------------------------------

// threads: the CPU thread count (0: the benchmarks' default); the FMA peak is taken at the same count.
void bm_op(benchmark::State& state, const Maker& make, Device device, int64_t batch, int threads) {
  if (device == Device::cuda && !keel::cuda_available()) {
    state.SkipWithError("no GPU: no CUDA device (or a build without the CUDA backend)");
    for (auto _ : state) {
    }
    return;
  }
  if (threads <= 0) threads = keel_bench::bench_threads();
  keel::set_num_threads(threads);
  keel::set_allow_tf32(false);
  Work w = make(device, batch);
  for (int i = 0; i < 2; ++i) w.run();  // warm-up: outputs allocated, workspaces and caches filled
  keel::synchronize();
  const bool device_timer = device == Device::cuda && keel::cuda::time_on_stream_ms != nullptr;
  // The process's CPU time next to the wall time: on a shared machine, cpu_share < 1 says the op's
  // threads were descheduled for part of the measurement (and by how much the wall clock overstates).
  auto process_cpu_s = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  const double cpu0 = process_cpu_s();
  double total_s = 0;
  for (auto _ : state) {
    double s;
    if (device_timer) {
      s = keel::cuda::time_on_stream_ms(w.run) * 1e-3;
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      w.run();
      keel::synchronize();
      s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    state.SetIterationTime(s);
    total_s += s;
  }
  const double cpu_s = process_cpu_s() - cpu0;
  const double per = total_s / static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
  if (device == Device::cpu && total_s > 0) state.counters["cpu_share"] = cpu_s / (total_s * threads);
  // One thread: the same fraction on on-core time (flops per second of the process's CPU time over
  // the FMA loop's on-core peak), which other processes' turns on the core do not distort.
  if (device == Device::cpu && threads == 1 && w.flops > 0 && cpu_s > 0 && keel_bench::cpu_peak().fma_gflops_1t_oncore > 0) {
    const double oncore = w.flops * static_cast<double>(state.iterations()) / cpu_s * 1e-9;
    state.counters["pct_fma_peak_oncore"] = 100.0 * oncore / keel_bench::cpu_peak().fma_gflops_1t_oncore;
  }
  if (w.flops > 0) {
    const double gflops = w.flops / per * 1e-9;
    state.counters["GFLOP/s"] = gflops;
    const auto& cpu = keel_bench::cpu_peak();
    const double peak = device == Device::cuda ? keel_bench::gpu_peak().fma_gflops
                        : threads == 1         ? cpu.fma_gflops_1t
                        : threads == cpu.threads ? cpu.fma_gflops
                                                 : 0.0;
    if (peak > 0) state.counters["pct_fma_peak"] = 100.0 * gflops / peak;
  }
  if (w.bytes > 0) {
    const double gbs = w.bytes / per * 1e-9;
    state.counters["GB/s"] = gbs;
    if (w.flops == 0) {
      const double peak =
          device == Device::cuda ? keel_bench::gpu_peak().copy_gbs : keel_bench::cpu_peak().bandwidth.triad_gbs;
      if (peak > 0) state.counters["pct_bw_peak"] = 100.0 * gbs / peak;
    }
  }
  if (batch > 0) state.counters["batch"] = static_cast<double>(batch);
  if (device == Device::cpu) state.counters["threads"] = threads;
}

// ---- op families ---------------------------------------------------------------------------------

struct ConvSpec {
  int64_t c, hw, k, r;
  int stride, padding;
  bool want_dx;  // false for a network's first layer, whose input needs no gradient
};

Maker conv_fwd(ConvSpec s) {
  return [s](Device d, int64_t n) {
    Generator gen(1);
    const int64_t o = keel::conv_out_size(s.hw, s.r, s.stride, s.padding);
    Tensor x = rand_tensor({n, s.c, s.hw, s.hw}, gen, d), w = rand_tensor({s.k, s.c, s.r, s.r}, gen, d, -0.1f, 0.1f);
    Tensor b = rand_tensor({s.k}, gen, d), y;
    const Conv2dArgs a{s.stride, s.padding};
    return Work{[=]() mutable { keel::conv2d_forward(x, w, b, y, a); },
                2.0 * n * s.k * s.c * s.r * s.r * o * o, 0};
  };
}

Maker conv_bwd(ConvSpec s) {
  return [s](Device d, int64_t n) {
    Generator gen(2);
    const int64_t o = keel::conv_out_size(s.hw, s.r, s.stride, s.padding);
    Tensor x = rand_tensor({n, s.c, s.hw, s.hw}, gen, d), w = rand_tensor({s.k, s.c, s.r, s.r}, gen, d, -0.1f, 0.1f);
    Tensor dy = rand_tensor({n, s.k, o, o}, gen, d), dx, dw, db;
    const Conv2dArgs a{s.stride, s.padding};
    const bool want_dx = s.want_dx;
    const double gemm = 2.0 * n * s.k * s.c * s.r * s.r * o * o;
    return Work{[=]() mutable { keel::conv2d_backward(x, w, dy, want_dx ? &dx : nullptr, dw, &db, a); },
                gemm * (want_dx ? 2.0 : 1.0), 0};
  };
}

// The same work under a forced CPU convolution method (keel::CpuConvAlgo), restored after each
// iteration, so the automatic choice and the method it replaces are timed side by side.
Maker with_cpu_conv_algo(Maker make, keel::CpuConvAlgo algo) {
  return [=](Device d, int64_t n) {
    Work w = make(d, n);
    w.run = [run = w.run, algo]() {
      keel::set_cpu_conv_algo(algo);
      run();
      keel::set_cpu_conv_algo(keel::CpuConvAlgo::automatic);
    };
    return w;
  };
}

// keel's CPU GEMM of the active instruction-set path: c (m × n) = a (m × k) · b (k × n), row-major.
void cpu_gemm(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  KEEL_ON_CPU(gemm::multiply(m, n, k, {a, k, 1}, {b, n, 1}, c, n, false));
}

// The forward convolution's GEMM on its own, through keel's CPU GEMM (packing of both operands
// included, im2col excluded): y (K × N·P) = w (K × C·R·S) · cols (C·R·S × N·P).
Maker conv_gemm(ConvSpec s) {
  return [s](Device, int64_t n) {
    const int64_t o = keel::conv_out_size(s.hw, s.r, s.stride, s.padding);
    const int64_t m = s.k, k = s.c * s.r * s.r, cols = n * o * o;
    Generator gen(3);
    Tensor a = rand_tensor({m, k}, gen, Device::cpu), b = rand_tensor({k, cols}, gen, Device::cpu);
    Tensor c({m, cols});
    return Work{[=]() mutable {
                  cpu_gemm(m, cols, k, a.data(), b.data(), c.data());
                },
                2.0 * m * cols * k, 0};
  };
}

// The active path's register tile and packed multiply (the panel widths differ by path).
int64_t cpu_tile_rows() {
  KEEL_ON_CPU(gemm::tile_rows());
}
int64_t cpu_tile_cols() {
  KEEL_ON_CPU(gemm::tile_cols());
}
void cpu_multiply_packed(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c,
                         int64_t ldc) {
  KEEL_ON_CPU(gemm::multiply_packed(m, n, k, a, cpu_tile_rows() * k, b, cpu_tile_cols() * k, c, ldc,
                                    false));
}

// The forward convolution's GEMM as the convolution runs it: the weights packed once and the
// columns already in packed panels (im2col writes them so), each thread multiplying its share of
// whole column panels into its own C block. Neither packing nor im2col is timed: this is the
// micro-kernel's and the blocking's figure, the one the "gemm/" rows dilute with a pack of a
// row-major B that is bound by memory, not by FMAs.
Maker conv_gemm_packed(ConvSpec s) {
  return [s](Device, int64_t n) {
    const int64_t o = keel::conv_out_size(s.hw, s.r, s.stride, s.padding);
    const int64_t m = s.k, k = s.c * s.r * s.r, cols = n * o * o;
    const int64_t rows = cpu_tile_rows(), panel_cols = cpu_tile_cols();
    const int64_t panel_floats = panel_cols * k, col_panels = (cols + panel_cols - 1) / panel_cols;
    Generator gen(3);
    Tensor a = rand_tensor({(m + rows - 1) / rows * rows * k}, gen, Device::cpu);
    Tensor b = rand_tensor({col_panels * panel_floats}, gen, Device::cpu);
    Tensor c({m, col_panels * panel_cols});
    return Work{[=]() mutable {
                  const int threads = keel::num_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
                  for (int t = 0; t < threads; ++t) {
                    const int64_t first = col_panels * t / threads;
                    const int64_t last = col_panels * (t + 1) / threads;
                    const int64_t width = std::min(cols, last * panel_cols) - first * panel_cols;
                    if (width <= 0) continue;
                    cpu_multiply_packed(m, width, k, a.data(), b.data() + first * panel_floats,
                                        c.data() + first * panel_cols, col_panels * panel_cols);
                  }
                },
                2.0 * m * cols * k, 0};
  };
}

Maker linear_fwd(int64_t in, int64_t out) {
  return [=](Device d, int64_t n) {
    Generator gen(4);
    Tensor x = rand_tensor({n, in}, gen, d), w = rand_tensor({out, in}, gen, d, -0.1f, 0.1f), b = rand_tensor({out}, gen, d), y;
    return Work{[=]() mutable { keel::linear_forward(x, w, b, y); }, 2.0 * n * in * out, 0};
  };
}

Maker linear_bwd(int64_t in, int64_t out) {
  return [=](Device d, int64_t n) {
    Generator gen(5);
    Tensor x = rand_tensor({n, in}, gen, d), w = rand_tensor({out, in}, gen, d, -0.1f, 0.1f), dy = rand_tensor({n, out}, gen, d);
    Tensor dx, dw, db;
    return Work{[=]() mutable { keel::linear_backward(x, w, dy, &dx, dw, &db); }, 4.0 * n * in * out, 0};
  };
}

Maker bn_fwd(int64_t c, int64_t hw) {
  return [=](Device d, int64_t n) {
    Generator gen(6);
    Shape xs = hw > 0 ? Shape{n, c, hw, hw} : Shape{n, c};
    Tensor x = rand_tensor(xs, gen, d), g = rand_tensor({c}, gen, d, 0.5f, 1.5f), b = rand_tensor({c}, gen, d);
    Tensor rm = Tensor::zeros({c}, d), rv = Tensor::full({c}, 1.0f, d), y, sm, si;
    const double e = static_cast<double>(x.numel());
    return Work{[=]() mutable { keel::batch_norm_forward_train(x, g, b, rm, rv, 0.1f, 1e-5f, y, sm, si); }, 0, 2 * e * kF};
  };
}

Maker bn_bwd(int64_t c, int64_t hw) {
  return [=](Device d, int64_t n) {
    Generator gen(7);
    Shape xs = hw > 0 ? Shape{n, c, hw, hw} : Shape{n, c};
    Tensor x = rand_tensor(xs, gen, d), g = rand_tensor({c}, gen, d, 0.5f, 1.5f), b = rand_tensor({c}, gen, d);
    Tensor rm = Tensor::zeros({c}, d), rv = Tensor::full({c}, 1.0f, d), y, sm, si, dx, dg, db;
    keel::batch_norm_forward_train(x, g, b, rm, rv, 0.1f, 1e-5f, y, sm, si);
    Tensor dy = rand_tensor(xs, gen, d);
    const double e = static_cast<double>(x.numel());
    return Work{[=]() mutable { keel::batch_norm_backward(x, g, sm, si, dy, dx, dg, db); }, 0, 3 * e * kF};
  };
}

Maker relu_fwd(Shape per_image) {
  return [=](Device d, int64_t n) {
    Generator gen(8);
    Tensor x = rand_tensor(Shape{n, per_image[0], per_image[1], per_image[2]}, gen, d), y;
    return Work{[=]() mutable { keel::relu_forward(x, y); }, 0, 2.0 * x.numel() * kF};
  };
}

Maker relu_bwd(Shape per_image) {
  return [=](Device d, int64_t n) {
    Generator gen(9);
    Shape s{n, per_image[0], per_image[1], per_image[2]};
    Tensor y = rand_tensor(s, gen, d), dy = rand_tensor(s, gen, d), dx;
    return Work{[=]() mutable { keel::relu_backward(y, dy, dx); }, 0, 3.0 * y.numel() * kF};
  };
}

Maker add_op(Shape per_image) {
  return [=](Device d, int64_t n) {
    Generator gen(10);
    Shape s{n, per_image[0], per_image[1], per_image[2]};
    Tensor a = rand_tensor(s, gen, d), b = rand_tensor(s, gen, d), y;
    return Work{[=]() mutable { keel::add(a, b, y); }, 0, 3.0 * a.numel() * kF};
  };
}

Maker maxpool_fwd(int64_t c, int64_t hw, Pool2dArgs p) {
  return [=](Device d, int64_t n) {
    Generator gen(11);
    Tensor x = rand_tensor({n, c, hw, hw}, gen, d), y;
    const int64_t o = keel::conv_out_size(hw, p.kernel, p.stride, p.padding);
    return Work{[=]() mutable { keel::max_pool2d_forward(x, y, p); }, 0, (double(x.numel()) + n * c * o * o) * kF};
  };
}

Maker maxpool_bwd(int64_t c, int64_t hw, Pool2dArgs p) {
  return [=](Device d, int64_t n) {
    Generator gen(12);
    const int64_t o = keel::conv_out_size(hw, p.kernel, p.stride, p.padding);
    Tensor x = rand_tensor({n, c, hw, hw}, gen, d), dy = rand_tensor({n, c, o, o}, gen, d), dx;
    return Work{[=]() mutable { keel::max_pool2d_backward(x, dy, dx, p); }, 0,
                (2.0 * x.numel() + double(dy.numel())) * kF};
  };
}

Maker adaptive_pool(int64_t c, int64_t hw, bool max, bool backward) {
  return [=](Device d, int64_t n) {
    Generator gen(13);
    Tensor x = rand_tensor({n, c, hw, hw}, gen, d), dy = rand_tensor({n, c, 1, 1}, gen, d), y, dx;
    const double e = double(x.numel());
    if (!backward) {
      if (max) return Work{[=]() mutable { keel::adaptive_max_pool2d_forward(x, y, 1, 1); }, 0, (e + n * c) * kF};
      return Work{[=]() mutable { keel::adaptive_avg_pool2d_forward(x, y, 1, 1); }, 0, (e + n * c) * kF};
    }
    if (max) return Work{[=]() mutable { keel::adaptive_max_pool2d_backward(x, dy, dx); }, 0, (2 * e + n * c) * kF};
    return Work{[=]() mutable { keel::adaptive_avg_pool2d_backward(dy, dx, hw, hw); }, 0, (e + n * c) * kF};
  };
}

Maker concat_op(int64_t c, bool backward) {
  return [=](Device d, int64_t n) {
    Generator gen(14);
    Tensor a = rand_tensor({n, c, 1, 1}, gen, d), b = rand_tensor({n, c, 1, 1}, gen, d), dy = rand_tensor({n, 2 * c, 1, 1}, gen, d);
    Tensor y, da, db;
    const double bytes = 4.0 * n * c * kF;
    if (backward) return Work{[=]() mutable { keel::split_channels(dy, c, da, db); }, 0, bytes};
    return Work{[=]() mutable { keel::concat_channels(a, b, y); }, 0, bytes};
  };
}

Maker dropout_op(int64_t features, float p, bool backward) {
  return [=](Device d, int64_t n) {
    Generator gen(15);
    Tensor x = rand_tensor({n, features}, gen, d), y, mask, dx;
    Generator drop(16);
    keel::dropout_forward(x, p, drop, y, mask);
    const double bytes = 3.0 * x.numel() * kF;
    if (backward) return Work{[=]() mutable { keel::dropout_backward(x, mask, dx); }, 0, bytes};
    return Work{[=]() mutable { keel::dropout_forward(x, p, drop, y, mask); }, 0, bytes};
  };
}

Maker cross_entropy(int64_t classes, bool backward) {
  return [=](Device d, int64_t n) {
    Generator gen(17);
    Tensor logits = rand_tensor({n, classes}, gen, d), loss, probs, dlogits;
    std::vector<float> lv(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) lv[static_cast<size_t>(i)] = static_cast<float>(i % classes);
    Tensor labels = Tensor::from_data({n}, lv, d);
    keel::softmax_cross_entropy_forward(logits, labels, loss, probs);
    const double bytes = (2.0 * n * classes + n) * kF;
    if (backward) return Work{[=]() mutable { keel::softmax_cross_entropy_backward(probs, labels, dlogits); }, 0, bytes};
    return Work{[=]() mutable { keel::softmax_cross_entropy_forward(logits, labels, loss, probs); }, 0, bytes};
  };
}

// One flat parameter tensor of the model's size (the trainer updates each parameter tensor in turn;
// this measures the fused update's throughput without the per-tensor calls).
Maker adamw_op(int64_t params) {
  return [=](Device d, int64_t) {
    Generator gen(18);
    Tensor p = rand_tensor({params}, gen, d), g = rand_tensor({params}, gen, d), m = Tensor::zeros({params}, d),
           v = Tensor::zeros({params}, d);
    keel::AdamWArgs a;
    return Work{[=]() mutable { keel::adamw_update(p, g, m, v, a); }, 0, 7.0 * params * kF};
  };
}

Maker sgd_op(int64_t params) {
  return [=](Device d, int64_t) {
    Generator gen(19);
    Tensor p = rand_tensor({params}, gen, d), g = rand_tensor({params}, gen, d), vel = Tensor::zeros({params}, d);
    keel::SgdArgs a;
    a.momentum = 0.9f;
    return Work{[=]() mutable { keel::sgd_update(p, g, vel, a, false); }, 0, 5.0 * params * kF};
  };
}

Maker resize_op(int64_t c, int64_t in, int64_t out, bool backward) {
  return [=](Device d, int64_t n) {
    Generator gen(20);
    Tensor x = rand_tensor({n, c, in, in}, gen, d), dy = rand_tensor({n, c, out, out}, gen, d), y, dx;
    const double bytes = (double(n) * c * (in * in + out * out)) * kF;
    if (backward) return Work{[=]() mutable { keel::resize_bilinear_backward(dy, dx, in, in); }, 0, bytes};
    return Work{[=]() mutable { keel::resize_bilinear_forward(x, y, out, out); }, 0, bytes};
  };
}

Maker normalize_op(int64_t c, int64_t hw) {
  return [=](Device d, int64_t n) {
    Generator gen(21);
    Tensor x = rand_tensor({n, c, hw, hw}, gen, d), y;
    Tensor mean = rand_tensor({c}, gen, d), std = rand_tensor({c}, gen, d, 0.5f, 1.5f);
    return Work{[=]() mutable { keel::normalize_channels(x, mean, std, y); }, 0, 2.0 * x.numel() * kF};
  };
}

Maker gather_op(int64_t rows, int64_t row_floats) {
  return [=](Device d, int64_t n) {
    Generator gen(22);
    Tensor src = rand_tensor({rows, row_floats}, gen, d), dst;
    std::vector<float> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = static_cast<float>((i * 7919) % rows);
    Tensor indices = Tensor::from_data({n}, idx, d);
    return Work{[=]() mutable { keel::gather_rows(src, indices, dst); }, 0, 2.0 * n * row_floats * kF};
  };
}

// ---- the table of cases --------------------------------------------------------------------------

struct Case {
  std::string name;  // "<suite>/<op>/<shape>/<pass>"
  Maker make;
  bool cpu_only = false;
};

// The small CNN (configs/small_cnn.yaml): 6x6 single-channel images, batch 64.
//   conv 1->32, BN, ReLU, conv 32->64, BN, ReLU, max-pool 2, conv 64->128, BN, ReLU, adaptive avg
//   pool, dropout 0.25, linear 128->64, ReLU, dropout 0.5, linear 64->2; AdamW over 101,506 params.
std::vector<Case> small_cases() {
  constexpr auto im2col = keel::CpuConvAlgo::im2col;
  const Pool2dArgs pool2{2, 2, 0};
  const ConvSpec c1{1, 6, 32, 3, 1, 1, false}, c2{32, 6, 64, 3, 1, 1, true}, c3{64, 3, 128, 3, 1, 1, true};
  return {
      {"conv/1to32_6x6/fwd", conv_fwd(c1)},          {"conv/1to32_6x6/bwd", conv_bwd(c1)},
      {"conv/32to64_6x6/fwd", conv_fwd(c2)},         {"conv/32to64_6x6/bwd", conv_bwd(c2)},
      {"conv/32to64_6x6/fwd/im2col", with_cpu_conv_algo(conv_fwd(c2), im2col), true},
      {"conv/32to64_6x6/bwd/im2col", with_cpu_conv_algo(conv_bwd(c2), im2col), true},
      {"conv/64to128_3x3/fwd", conv_fwd(c3)},        {"conv/64to128_3x3/bwd", conv_bwd(c3)},
      {"gemm/32to64_6x6/fwd", conv_gemm(c2), true},  {"gemm/64to128_3x3/fwd", conv_gemm(c3), true},
      {"gemm_packed/32to64_6x6/fwd", conv_gemm_packed(c2), true},
      {"gemm_packed/64to128_3x3/fwd", conv_gemm_packed(c3), true},
      {"batch_norm/32_6x6/fwd", bn_fwd(32, 6)},      {"batch_norm/32_6x6/bwd", bn_bwd(32, 6)},
      {"batch_norm/64_6x6/fwd", bn_fwd(64, 6)},      {"batch_norm/64_6x6/bwd", bn_bwd(64, 6)},
      {"batch_norm/128_3x3/fwd", bn_fwd(128, 3)},    {"batch_norm/128_3x3/bwd", bn_bwd(128, 3)},
      {"relu/64_6x6/fwd", relu_fwd({64, 6, 6})},     {"relu/64_6x6/bwd", relu_bwd({64, 6, 6})},
      {"max_pool/64_6x6_k2/fwd", maxpool_fwd(64, 6, pool2)},
      {"max_pool/64_6x6_k2/bwd", maxpool_bwd(64, 6, pool2)},
      {"adaptive_avg_pool/128_3x3/fwd", adaptive_pool(128, 3, false, false)},
      {"adaptive_avg_pool/128_3x3/bwd", adaptive_pool(128, 3, false, true)},
      {"dropout/128_p0.25/fwd", dropout_op(128, 0.25f, false)},
      {"dropout/128_p0.25/bwd", dropout_op(128, 0.25f, true)},
      {"linear/128to64/fwd", linear_fwd(128, 64)},   {"linear/128to64/bwd", linear_bwd(128, 64)},
      {"linear/64to2/fwd", linear_fwd(64, 2)},       {"linear/64to2/bwd", linear_bwd(64, 2)},
      {"cross_entropy/2/fwd", cross_entropy(2, false)},
      {"cross_entropy/2/bwd", cross_entropy(2, true)},
      {"adamw/101506_params/step", adamw_op(101506)},
      {"gather_rows/712x36/fwd", gather_op(712, 36)},
  };
}

// ResNet-34 with the seed recipe's concat-pool head at 224x224 (batch 16 on the CPU, 64 on CUDA).
std::vector<Case> resnet_cases() {
  constexpr auto im2col = keel::CpuConvAlgo::im2col;
  const ConvSpec stem{3, 224, 64, 7, 2, 3, false}, s1{64, 56, 64, 3, 1, 1, true}, s2{128, 28, 128, 3, 1, 1, true},
      s3{256, 14, 256, 3, 1, 1, true}, s4{512, 7, 512, 3, 1, 1, true}, down{64, 56, 128, 3, 2, 1, true},
      proj{64, 56, 128, 1, 2, 0, true};
  std::vector<Case> cases;
  const std::pair<const char*, ConvSpec> convs[] = {
      {"stem_3to64_224_7x7s2", stem}, {"64to64_56", s1},   {"128to128_28", s2},         {"256to256_14", s3},
      {"512to512_7", s4},             {"64to128_56_s2", down}, {"64to128_56_1x1s2", proj},
  };
  for (const auto& [name, spec] : convs) {
    cases.push_back({std::string("conv/") + name + "/fwd", conv_fwd(spec)});
    cases.push_back({std::string("conv/") + name + "/bwd", conv_bwd(spec)});
    if (spec.r == 3 && spec.stride == 1) {  // where the CPU may take Winograd
      cases.push_back({std::string("conv/") + name + "/fwd/im2col",
                       with_cpu_conv_algo(conv_fwd(spec), im2col), true});
      cases.push_back({std::string("conv/") + name + "/bwd/im2col",
                       with_cpu_conv_algo(conv_bwd(spec), im2col), true});
    }
  }
  for (const auto& [name, spec] : convs) {
    cases.push_back({std::string("gemm/") + name + "/fwd", conv_gemm(spec), true});
    cases.push_back({std::string("gemm_packed/") + name + "/fwd", conv_gemm_packed(spec), true});
  }
  const Pool2dArgs stem_pool{3, 2, 1};
  const std::vector<Case> rest = {
      {"batch_norm/64_112x112/fwd", bn_fwd(64, 112)},  {"batch_norm/64_112x112/bwd", bn_bwd(64, 112)},
      {"batch_norm/256_14x14/fwd", bn_fwd(256, 14)},   {"batch_norm/256_14x14/bwd", bn_bwd(256, 14)},
      {"batch_norm/1024_1d/fwd", bn_fwd(1024, 0)},     {"batch_norm/1024_1d/bwd", bn_bwd(1024, 0)},
      {"relu/64_112x112/fwd", relu_fwd({64, 112, 112})}, {"relu/64_112x112/bwd", relu_bwd({64, 112, 112})},
      {"add/64_56x56/fwd", add_op({64, 56, 56})},
      {"max_pool/64_112x112_k3s2/fwd", maxpool_fwd(64, 112, stem_pool)},
      {"max_pool/64_112x112_k3s2/bwd", maxpool_bwd(64, 112, stem_pool)},
      {"adaptive_max_pool/512_7x7/fwd", adaptive_pool(512, 7, true, false)},
      {"adaptive_max_pool/512_7x7/bwd", adaptive_pool(512, 7, true, true)},
      {"adaptive_avg_pool/512_7x7/fwd", adaptive_pool(512, 7, false, false)},
      {"adaptive_avg_pool/512_7x7/bwd", adaptive_pool(512, 7, false, true)},
      {"concat_channels/512+512/fwd", concat_op(512, false)},
      {"concat_channels/512+512/bwd", concat_op(512, true)},
      {"dropout/1024_p0.25/fwd", dropout_op(1024, 0.25f, false)},
      {"dropout/1024_p0.25/bwd", dropout_op(1024, 0.25f, true)},
      {"linear/1024to512/fwd", linear_fwd(1024, 512)}, {"linear/1024to512/bwd", linear_bwd(1024, 512)},
      {"linear/512to2/fwd", linear_fwd(512, 2)},       {"linear/512to2/bwd", linear_bwd(512, 2)},
      {"cross_entropy/2/fwd", cross_entropy(2, false)}, {"cross_entropy/2/bwd", cross_entropy(2, true)},
      {"resize_bilinear/3_6to224/fwd", resize_op(3, 6, 224, false)},
      {"resize_bilinear/3_6to224/bwd", resize_op(3, 6, 224, true)},
      {"normalize_channels/3_224x224/fwd", normalize_op(3, 224)},
      {"adamw/21.8M_params/step", adamw_op(21'800'000)},
      {"sgd_momentum/21.8M_params/step", sgd_op(21'800'000)},
  };
  cases.insert(cases.end(), rest.begin(), rest.end());
  return cases;
}

// ---- the op-case table
// ---------------------------------------------------------------------------

double bytes_of(const std::vector<Tensor>& tensors) {
  double total = 0;
  for (const Tensor& t : tensors) total += t.defined() ? static_cast<double>(t.numel()) * kF : 0.0;
  return total;
}

Maker table_forward(const keel::testing::OpCase& c) {
  return [&c](Device d, int64_t) {
    const std::vector<Tensor> in = keel::testing::make_operands(c, d);
    std::vector<Tensor> out;
    c.forward(in, out);
    return Work{[&c, in, out]() mutable { c.forward(in, out); }, c.flops,
                bytes_of(in) + bytes_of(out)};
  };
}

Maker table_backward(const keel::testing::OpCase& c) {
  return [&c](Device d, int64_t) {
    const keel::testing::CaseRun r = keel::testing::run_case(c, d);
    const double gemms = c.flops > 0 ? (c.operands[0].differentiable ? 2.0 : 1.0) : 0.0;
    return Work{[&c, in = r.operands, out = r.outputs, dy = r.dy, grads = r.grads]() mutable {
                  c.backward(in, out, dy, grads);
                },
                gemms * c.flops, bytes_of(r.operands) + bytes_of({r.dy}) + bytes_of(r.grads)};
  };
}

std::vector<Case> table_cases() {
  std::vector<Case> cases;
  for (const keel::testing::OpCase& c : keel::testing::op_cases()) {
    cases.push_back({c.name() + "/fwd", table_forward(c)});
    if (c.has_backward()) cases.push_back({c.name() + "/bwd", table_backward(c)});
  }
  return cases;
}

void register_all() {
  struct Suite {
    const char* name;
    std::vector<Case> cases;
    int64_t cpu_batch, cuda_batch;
    double min_time;  // seconds per row
  };
  // The table's few hundred rows at small shapes: a baseline per case, timed briefly.
  const Suite suites[] = {{"small", small_cases(), 64, 64, 0.2},
                          {"resnet34", resnet_cases(), 16, 64, 0.2},
                          {"cases", table_cases(), 0, 0, 0.05}};
  for (Device d : {Device::cpu, Device::cuda}) {
    for (const Suite& s : suites) {
      for (const Case& c : s.cases) {
        if (c.cpu_only && d == Device::cuda) continue;
        const int64_t batch = d == Device::cpu ? s.cpu_batch : s.cuda_batch;
        const std::string name = std::string(d == Device::cpu ? "cpu/" : "cuda/") + s.name + "/" + c.name;
        benchmark::RegisterBenchmark(name.c_str(), bm_op, c.make, d, batch, 0)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond)
            ->MinTime(s.min_time);
        // The GEMMs also on one thread: against the one-thread peak, a figure that other work on a
        // shared machine disturbs far less than the all-thread one.
        if (c.cpu_only && keel_bench::bench_threads() > 1) {
          benchmark::RegisterBenchmark((name + "/threads:1").c_str(), bm_op, c.make, d, batch, 1)
              ->UseManualTime()
              ->Unit(benchmark::kMicrosecond)
              ->MinTime(0.2);
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  // The peaks every percentage is relative to, measured before any benchmark runs.
  const auto& cpu = keel_bench::cpu_peak();
  benchmark::AddCustomContext("threads", std::to_string(cpu.threads));
  benchmark::AddCustomContext("cpu_fma_isa", cpu.isa);
  benchmark::AddCustomContext("cpu_isa", keel::cpu_isa_name(keel::cpu_isa()));
  benchmark::AddCustomContext("cpu_fma_peak_gflops_1thread", std::to_string(cpu.fma_gflops_1t));
  benchmark::AddCustomContext("cpu_fma_peak_gflops_1thread_oncore", std::to_string(cpu.fma_gflops_1t_oncore));
  benchmark::AddCustomContext("cpu_fma_peak_gflops", std::to_string(cpu.fma_gflops));
  benchmark::AddCustomContext("cpu_copy_gbs", std::to_string(cpu.bandwidth.copy_gbs));
  benchmark::AddCustomContext("cpu_triad_gbs", std::to_string(cpu.bandwidth.triad_gbs));
  std::fprintf(stderr,
               "peak: CPU %s fp32 FMA %.1f GFLOP/s on 1 thread (%.1f on-core), %.1f on %d; triad %.1f GB/s, copy %.1f GB/s\n",
               cpu.isa.c_str(), cpu.fma_gflops_1t, cpu.fma_gflops_1t_oncore, cpu.fma_gflops, cpu.threads, cpu.bandwidth.triad_gbs,
               cpu.bandwidth.copy_gbs);
  if (keel::cuda_available()) {
    const auto& gpu = keel_bench::gpu_peak();
    if (gpu.available) {
      benchmark::AddCustomContext("gpu_name", gpu.name);
      benchmark::AddCustomContext("gpu_fma_peak_gflops", std::to_string(gpu.fma_gflops));
      benchmark::AddCustomContext("gpu_copy_gbs", std::to_string(gpu.copy_gbs));
      std::fprintf(stderr, "peak: %s fp32 FMA %.0f GFLOP/s, D2D copy %.0f GB/s\n", gpu.name.c_str(), gpu.fma_gflops,
                   gpu.copy_gbs);
    } else {
      std::fprintf(stderr, "peak: GPU not measured (%s)\n", gpu.why.c_str());
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
