// keel's own convolution kernels (Winograd F(4x4, 3x3) or F(2x2, 3x3) for the 3x3 stride-1 layers,
// im2col + one SGEMM per chunk otherwise) against cuDNN at ResNet-34 shapes, batch 64, fp32 with
// TF32 off: forward, backward-data and backward-filter. Each iteration times keel, then (for the
// Winograd shapes) keel with keel::GpuConvAlgo::im2col and ::winograd2 (the F(2x2) path), (for the
// filter gradient of short filter rows, the stem's) keel with GpuConvDw::direct, then cuDNN, with
// CUDA events on keel's stream; the counters are the medians over all iterations (after a warm-up
// that lets cuDNN pick its algorithms and the allocator fill its cache). Without a CUDA device
// every benchmark reports itself skipped. Both policies are left at their defaults afterwards,
// whatever KEEL_CONV_ALGO / KEEL_CONV_DW said at the start.
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "cuda/event_timer.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "keel/tensor.h"

namespace {

using keel::Conv2dArgs;
using keel::Device;
using keel::GpuBackend;
using keel::Shape;
using keel::Tensor;

struct ConvShape {
  const char* name;
  int64_t c, hw, k, r;
  int stride, padding;
};

// The distinct 3×3 convolutions of ResNet-34's four stages and its 7×7/2 stem, at 224×224 input.
const std::vector<ConvShape> kShapes = {
    {"stem_3to64_224_7x7s2", 3, 224, 64, 7, 2, 3},
    {"64to64_56", 64, 56, 64, 3, 1, 1},
    {"128to128_28", 128, 28, 128, 3, 1, 1},
    {"256to256_14", 256, 14, 256, 3, 1, 1},
    {"512to512_7", 512, 7, 512, 3, 1, 1},
};
constexpr int64_t kBatch = 64;

enum class Pass { forward, backward_data, backward_filter };
const char* pass_name(Pass p) {
  return p == Pass::forward ? "fwd" : p == Pass::backward_data ? "bwd_data" : "bwd_filter";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

void bm_conv(benchmark::State& state, ConvShape s, Pass pass) {
  if (keel::cuda::time_on_stream_ms == nullptr || !keel::cuda_available()) {
    state.SkipWithError("no CUDA device (or a build without the CUDA backend): skipped");
    for (auto _ : state) {
    }
    return;
  }
  keel::set_allow_tf32(false);
  keel::set_deterministic(false);
  keel::Generator gen(42);
  const Conv2dArgs args{s.stride, s.padding};
  const int64_t out = keel::conv_out_size(s.hw, s.r, s.stride, s.padding);
  Tensor x = Tensor::uniform(Shape{kBatch, s.c, s.hw, s.hw}, -1.0f, 1.0f, gen, Device::cuda);
  Tensor w = Tensor::uniform(Shape{s.k, s.c, s.r, s.r}, -0.1f, 0.1f, gen, Device::cuda);
  Tensor dy = Tensor::uniform(Shape{kBatch, s.k, out, out}, -1.0f, 1.0f, gen, Device::cuda);
  Tensor y, dx, dw;
  auto run = [&] {
    switch (pass) {
      case Pass::forward:
        keel::conv2d_forward(x, w, Tensor(), y, args);
        break;
      case Pass::backward_filter:
        keel::conv2d_backward(x, w, dy, nullptr, dw, nullptr, args);
        break;
      case Pass::backward_data:
        keel::conv2d_backward(x, w, dy, &dx, dw, nullptr, args);
        break;
    }
  };
  const bool have_cudnn = keel::cudnn_built();
  const bool winograd = s.r == 3 && s.stride == 1 && s.padding == 1;
  auto time_backend = [&](GpuBackend b) {
    keel::set_gpu_backend(b);
    return keel::cuda::time_on_stream_ms(run);
  };
  // keel's kernels with one convolution policy changed for the call, then back to the default.
  auto time_algo = [&](keel::GpuConvAlgo algo) {
    keel::set_gpu_conv_algo(algo);
    const double ms = time_backend(GpuBackend::keel);
    keel::set_gpu_conv_algo(keel::GpuConvAlgo::automatic);
    return ms;
  };
  // The direct filter gradient (GpuConvDw::direct) where it applies: dw alone, C·R·S <= 160.
  const bool direct_dw = pass == Pass::backward_filter && !winograd && s.c * s.r * s.r <= 160;
  auto time_direct_dw = [&] {
    keel::set_gpu_conv_dw(keel::GpuConvDw::direct);
    const double ms = time_backend(GpuBackend::keel);
    keel::set_gpu_conv_dw(keel::GpuConvDw::gemm);
    return ms;
  };
  keel::set_gpu_conv_algo(keel::GpuConvAlgo::automatic);
  keel::set_gpu_conv_dw(keel::GpuConvDw::gemm);
  for (int i = 0; i < 3; ++i) {  // warm-up: algorithm search, allocator cache, clocks
    time_backend(GpuBackend::keel);
    if (winograd) time_algo(keel::GpuConvAlgo::im2col);
    if (winograd) time_algo(keel::GpuConvAlgo::winograd2);
    if (direct_dw) time_direct_dw();
    if (have_cudnn) time_backend(GpuBackend::cudnn);
  }
  std::vector<double> keel_ms, im2col_ms, winograd2_ms, direct_dw_ms, cudnn_ms;
  for (auto _ : state) {
    const double k = time_backend(GpuBackend::keel);
    keel_ms.push_back(k);
    if (winograd) im2col_ms.push_back(time_algo(keel::GpuConvAlgo::im2col));
    if (winograd) winograd2_ms.push_back(time_algo(keel::GpuConvAlgo::winograd2));
    if (direct_dw) direct_dw_ms.push_back(time_direct_dw());
    if (have_cudnn) cudnn_ms.push_back(time_backend(GpuBackend::cudnn));
    state.SetIterationTime(k / 1e3);
  }
  keel::set_gpu_backend(GpuBackend::keel);
  // keel's backward computes dw on every call; "bwd_data" is backward with dx as well, so it times
  // both GEMMs; its FLOPs count both.
  const double flop_one = 2.0 * kBatch * s.k * s.c * s.r * s.r * out * out;
  const double flop = pass == Pass::backward_data ? 2.0 * flop_one : flop_one;
  const double km = median(keel_ms);
  state.counters["keel_ms"] = km;
  state.counters["keel_GFLOPs"] = flop / (km * 1e6);
  if (winograd) state.counters["im2col_ms"] = median(im2col_ms);
  if (winograd) state.counters["winograd2_ms"] = median(winograd2_ms);
  if (direct_dw) state.counters["direct_dw_ms"] = median(direct_dw_ms);
  if (have_cudnn) {
    const double cm = median(cudnn_ms);
    state.counters["cudnn_ms"] = cm;
    state.counters["cudnn_GFLOPs"] = flop / (cm * 1e6);
    state.counters["keel_over_cudnn"] = km / cm;
    if (direct_dw) state.counters["direct_dw_over_cudnn"] = median(direct_dw_ms) / cm;
  }
  state.SetLabel(std::string(pass_name(pass)) + " " + s.name);
}

const int kRegistered = [] {
  for (const ConvShape& s : kShapes) {
    for (Pass p : {Pass::forward, Pass::backward_data, Pass::backward_filter}) {
      benchmark::RegisterBenchmark((std::string("conv/") + pass_name(p) + "/" + s.name).c_str(), bm_conv, s, p)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond)
          ->Iterations(20);
    }
  }
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
