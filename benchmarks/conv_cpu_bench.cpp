// CPU conv2d throughput at the flagship CNN's shapes and ResNet-34's (batch 16): forward, backward
// (dx, dw, db) and both, in GFLOP/s, with the thread count as the second argument.
#include <cstdint>

#include <benchmark/benchmark.h>

#include "keel/ops.h"
#include "keel/random.h"
#include "keel/runtime.h"

namespace {

struct ConvShape {
  const char* name;
  int64_t n, c, h, w, k;
  int64_t r = 3, stride = 1, pad = 1;  // square kernel r × r
  int64_t oh() const { return (h + 2 * pad - r) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - r) / stride + 1; }
};

// Arg 0 indexes this table.
constexpr ConvShape kShapes[] = {
    {"cnn_conv1_64x1to32_6x6", 64, 1, 6, 6, 32},
    {"cnn_conv2_64x32to64_6x6", 64, 32, 6, 6, 64},
    {"cnn_conv3_64x64to128_3x3", 64, 64, 3, 3, 128},
    {"resnet34_16x64to64_56x56", 16, 64, 56, 56, 64},
    {"resnet34_16x128to128_28x28", 16, 128, 28, 28, 128},
    {"resnet34_16x64to128_56x56_3x3s2", 16, 64, 56, 56, 128, 3, 2, 1},
    {"resnet34_16x64to128_56x56_1x1s2", 16, 64, 56, 56, 128, 1, 2, 0},
    {"resnet34_16x256to256_14x14", 16, 256, 14, 14, 256},
    {"resnet34_16x512to512_7x7", 16, 512, 7, 7, 512},
    {"resnet34_16x3to64_224x224_7x7s2", 16, 3, 224, 224, 64, 7, 2, 3},
};

enum class Pass { forward, backward, both };

void run_conv(benchmark::State& state, Pass pass) {
  const ConvShape& s = kShapes[state.range(0)];
  keel::set_num_threads(static_cast<int>(state.range(1)));
  keel::Generator gen(7);
  const keel::Tensor x = keel::Tensor::uniform({s.n, s.c, s.h, s.w}, -1.0f, 1.0f, gen);
  const keel::Tensor w = keel::Tensor::uniform({s.k, s.c, s.r, s.r}, -0.5f, 0.5f, gen);
  const keel::Tensor b = keel::Tensor::uniform({s.k}, -0.5f, 0.5f, gen);
  const keel::Tensor dy = keel::Tensor::uniform({s.n, s.k, s.oh(), s.ow()}, -1.0f, 1.0f, gen);
  const keel::Conv2dArgs args{static_cast<int>(s.stride), static_cast<int>(s.pad)};
  keel::Tensor y, dx, dw, db;
  // A first layer (one grey or three colour channels) never needs dx; the others do.
  keel::Tensor* dx_wanted = s.c > 3 ? &dx : nullptr;
  for (auto _ : state) {
    if (pass != Pass::backward) keel::conv2d_forward(x, w, b, y, args);
    if (pass != Pass::forward) keel::conv2d_backward(x, w, dy, dx_wanted, dw, &db, args);
    benchmark::ClobberMemory();
  }
  // One GEMM of 2·N·K·(C·R·S)·(H'·W') flops per product: forward; dw and dx in backward.
  const double gemm = 2.0 * s.n * s.k * s.c * s.r * s.r * s.oh() * s.ow();
  const double gemms_backward = dx_wanted ? 2.0 : 1.0;
  const double flops = pass == Pass::forward    ? gemm
                       : pass == Pass::backward ? gemm * gemms_backward
                                                : gemm * (1.0 + gemms_backward);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(s.name);
}

void shapes_and_threads(benchmark::internal::Benchmark* b) {
  for (int64_t shape = 0; shape < static_cast<int64_t>(std::size(kShapes)); ++shape) {
    for (int64_t threads : {1, 2}) b->Args({shape, threads});
  }
  b->ArgNames({"shape", "threads"})->UseRealTime()->Unit(benchmark::kMicrosecond);
}

void BM_conv2d_forward(benchmark::State& state) {
  run_conv(state, Pass::forward);
}
void BM_conv2d_backward(benchmark::State& state) {
  run_conv(state, Pass::backward);
}
void BM_conv2d_forward_backward(benchmark::State& state) {
  run_conv(state, Pass::both);
}

BENCHMARK(BM_conv2d_forward)->Apply(shapes_and_threads);
BENCHMARK(BM_conv2d_backward)->Apply(shapes_and_threads);
BENCHMARK(BM_conv2d_forward_backward)->Apply(shapes_and_threads);

}  // namespace

BENCHMARK_MAIN();
