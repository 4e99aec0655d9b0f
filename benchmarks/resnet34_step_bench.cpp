// One training step of the seed recipe's model (ResNet-34 body + fastai concat-pool head, 2 classes):
// forward, softmax cross-entropy, backward and AdamW, at 224x224 in fp32 (TF32 off). The same model
// and optimizer as the PyTorch reference that scripts/gpu-check.sh and benchmarks/compare time.
// Device time per step is measured around a whole step (CUDA: keel::synchronize before the clock).
// cuda_keel_graph replays the step as a CUDA graph (keel::train::StepGraph, config key cuda_graph).
#include <chrono>
#include <string>

#include <benchmark/benchmark.h>

#include "keel/nn/resnet.h"
#include "keel/ops.h"
#include "keel/optim/adamw.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "keel/tensor.h"
#include "keel/train/step_graph.h"

namespace {

using keel::Device;
using keel::Tensor;

void bm_resnet34_step(benchmark::State& state, Device device, keel::GpuBackend backend,
                      bool graph = false) {
  if (device == Device::cuda && !keel::cuda_available()) {
    state.SkipWithError("no CUDA device (or a build without the CUDA backend): skipped");
    for (auto _ : state) {
    }
    return;
  }
  if (backend == keel::GpuBackend::cudnn && !keel::cudnn_built()) {
    state.SkipWithError("this keel build has no cuDNN: skipped");
    for (auto _ : state) {
    }
    return;
  }
  const int64_t batch = state.range(0);
  keel::set_allow_tf32(false);
  keel::set_gpu_backend(backend);
  keel::Generator gen(0);
  auto model = keel::nn::resnet34_classifier(gen, 2, 3);
  model->to(device);
  model->set_generator(&gen);
  (*model)[0].set_input_grad(false);
  keel::optim::AdamWOptions options;
  options.lr = 3e-3;
  options.beta2 = 0.99;
  keel::optim::AdamW opt(model->parameters(), options);
  const Tensor x = Tensor::normal({batch, 3, 224, 224}, 0.0f, 1.0f, gen, device);
  std::vector<float> label_values(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) label_values[static_cast<size_t>(i)] = static_cast<float>(i % 2);
  const Tensor labels = Tensor::from_data({batch}, label_values, device);
  Tensor loss, probs, dlogits;
  auto step = [&] {
    const Tensor& logits = model->forward(x);
    keel::softmax_cross_entropy_forward(logits, labels, loss, probs);
    keel::softmax_cross_entropy_backward(probs, labels, dlogits);
    model->backward(dlogits);
    opt.step();
  };
  // With a graph: the first call runs the step eagerly, the second captures and replays it.
  keel::train::StepGraph step_graph(gen, opt);
  auto run_step = [&] {
    if (!graph || !step_graph.run(x, labels, step)) step();
  };
  for (int i = 0; i < 3; ++i) run_step();  // warm-up: allocator cache, cuDNN algorithm choice
  keel::synchronize();
  if (graph && step_graph.replays() == 0) {
    const std::string why = "the step could not be captured: " + step_graph.failure();
    state.SkipWithError(why.c_str());
    for (auto _ : state) {
    }
    return;
  }
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    run_step();
    keel::synchronize();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(batch) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["loss"] = loss.item();
}

}  // namespace

// GPU: batch 64 as in the seed recipe, keel's kernels and the cuDNN backend.
BENCHMARK_CAPTURE(bm_resnet34_step, cuda_keel, Device::cuda, keel::GpuBackend::keel)
    ->Arg(64)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(bm_resnet34_step, cuda_cudnn, Device::cuda, keel::GpuBackend::cudnn)
    ->Arg(64)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(bm_resnet34_step, cuda_keel_graph, Device::cuda, keel::GpuBackend::keel, true)
    ->Arg(64)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
// CPU: batch 16, the size the CPU comparison with PyTorch uses (about 2 s per step on 2 cores).
BENCHMARK_CAPTURE(bm_resnet34_step, cpu, Device::cpu, keel::GpuBackend::keel)
    ->Arg(16)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

BENCHMARK_MAIN();
