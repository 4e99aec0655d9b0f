// Data-parallel scaling of the ResNet-34 CPU training step (seed recipe model, 224x224, fp32):
// run under `mpirun -np N`, each rank takes global_batch / N rows on one thread, the gradients are
// summed in one flat buffer by one all-reduce, then AdamW steps. Prints one JSON line from rank 0
// with the median step time, its all-reduce part, the process's CPU time per step (which, unlike
// wall time, does not grow when other work shares the cores) and the bytes reduced per step.
// usage: dist_step_bench [global_batch=16] [steps=4]   (benchmarks/dist_scaling.sh runs it)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <time.h>

#include <nlohmann/json.hpp>

#include "keel/dist.h"
#include "keel/nn/resnet.h"
#include "keel/ops.h"
#include "keel/optim/adamw.h"
#include "keel/random.h"
#include "keel/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Every gradient a view of one flat tensor, as keel's data-parallel trainer keeps them.
keel::Tensor flat_gradients(const std::vector<keel::nn::Parameter*>& params) {
  int64_t total = 0;
  for (const auto* p : params) total += p->value.numel();
  keel::Tensor flat = keel::Tensor::zeros(keel::Shape{total});
  int64_t offset = 0;
  for (auto* p : params) {
    p->grad = flat.rows(offset, offset + p->value.numel()).reshape(p->value.shape());
    offset += p->value.numel();
  }
  return flat;
}

}  // namespace

int main(int argc, char** argv) {
  keel::dist::init(&argc, &argv);
  const int64_t global_batch = argc > 1 ? std::atoll(argv[1]) : 16;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 4;
  const int world = keel::dist::world_size();
  const int64_t rows = global_batch / world;
  keel::set_num_threads(1);
  keel::Generator gen(0);
  auto model = keel::nn::resnet34_classifier(gen, 2, 3);
  model->set_generator(&gen);
  (*model)[0].set_input_grad(false);
  const std::vector<keel::nn::Parameter*> params = model->parameters();
  keel::Tensor grads = flat_gradients(params);
  keel::optim::AdamWOptions options;
  options.lr = 3e-3;
  keel::optim::AdamW opt(params, options);
  keel::Generator data_gen(1 + static_cast<uint64_t>(keel::dist::rank()));
  const keel::Tensor x = keel::Tensor::normal({rows, 3, 224, 224}, 0.0f, 1.0f, data_gen);
  std::vector<float> label_values(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i)
    label_values[static_cast<size_t>(i)] = static_cast<float>(i % 2);
  const keel::Tensor labels = keel::Tensor::from_data({rows}, label_values);
  keel::Tensor loss, probs, dlogits;
  std::vector<double> step_s, reduce_s, cpu_s;
  for (int i = 0; i <= steps; ++i) {  // step 0 warms up the allocator and workspaces
    keel::dist::barrier();
    const auto start = Clock::now();
    const double cpu_start = cpu_seconds();
    const keel::Tensor& logits = model->forward(x);
    keel::softmax_cross_entropy_forward(logits, labels, loss, probs);
    keel::softmax_cross_entropy_backward(probs, labels, dlogits);
    keel::scale(dlogits, 1.0f / static_cast<float>(world), dlogits);
    model->backward(dlogits);
    const auto reduce_start = Clock::now();
    keel::dist::all_reduce(grads, keel::dist::Reduce::sum);
    const double reduce = seconds_since(reduce_start);
    opt.step();
    if (i > 0) {
      cpu_s.push_back(cpu_seconds() - cpu_start);
      step_s.push_back(seconds_since(start));
      reduce_s.push_back(reduce);
    }
  }
  // The slowest rank's CPU time per step: the step ends with it.
  double cpu_step = median(cpu_s);
  std::vector<double> cpu_max(static_cast<size_t>(world), 0.0);
  cpu_max[static_cast<size_t>(keel::dist::rank())] = cpu_step;
  keel::dist::all_reduce(std::span<double>(cpu_max), keel::dist::Reduce::sum);
  cpu_step = *std::max_element(cpu_max.begin(), cpu_max.end());
  if (keel::dist::is_root()) {
    nlohmann::json out = {{"processes", world},
                          {"threads_per_process", 1},
                          {"global_batch", global_batch},
                          {"rows_per_process", rows},
                          {"steps", steps},
                          {"median_step_s", median(step_s)},
                          {"median_allreduce_s", median(reduce_s)},
                          {"median_cpu_s_per_step_slowest_rank", cpu_step},
                          {"allreduce_bytes_per_step", grads.numel() * 4},
                          {"parameters", grads.numel()},
                          {"images_per_s", static_cast<double>(global_batch) / median(step_s)}};
    std::printf("%s\n", out.dump().c_str());
  }
  keel::dist::finalize();
  return 0;
}
