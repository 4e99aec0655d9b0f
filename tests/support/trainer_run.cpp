// Synthetic-image training for the comparison tests (see trainer_run.h).
#include "support/trainer_run.h"

#include "keel/random.h"
#include "keel/train/step_graph.h"
#include "keel/train/trainer.h"
#include "support/test_util.h"
#include "titanic/model_builder.h"

namespace keel::testing {

namespace {
constexpr int64_t kImages = 232, kHeldOut = 40, kSide = 6;

train::LabelledImages synthetic_images(int64_t count, uint64_t seed, Device device) {
  train::LabelledImages out;
  out.images = random_tensor(Shape{count, 1, kSide, kSide}, seed, 0.0f, 1.0f).to(device);
  Generator gen(seed + 1);
  std::vector<float> labels(static_cast<size_t>(count));
  for (float& l : labels) l = static_cast<float>(gen.next_below(2));
  out.labels = Tensor::from_data(Shape{count}, labels, device);
  return out;
}
}  // namespace

Config small_training_config() {
  Config c = parse_config(R"(
seed: 3
data: {channels: 1}
model:
  arch: layers
  layers:
    - conv2d: {out: 16, kernel: 3, padding: 1}
    - batch_norm
    - relu
    - conv2d: {out: 32, kernel: 3, padding: 1}
    - batch_norm
    - relu
    - max_pool: {kernel: 2}
    - adaptive_avg_pool: {size: 1}
    - flatten
    - dropout: {p: 0.25}
    - linear: {out: 16}
    - relu
    - dropout: {p: 0.5}
    - linear: {out: 2}
optimizer: {name: adamw, lr: 3.0e-3, beta1: 0.9, beta2: 0.99, weight_decay: 0.01}
schedule: {name: one_cycle, style: pytorch, pct_start: 0.3, moms_max: 0.95, moms_min: 0.85}
train: {epochs: 3, batch_size: 64, drop_last: true, val_fraction: 0.2, best_metric: last}
)",
                          "small_training_config");
  return c;
}

TrainedModel train_synthetic(const Config& config, Device device) {
  Generator init(config.seed);
  auto model = train::build_model(config, 1, kSide, init);
  train::Trainer trainer(trainer_options(config), *model, device, config.seed, 0);
  const int64_t held_out = config.train.val_fraction > 0 ? kHeldOut : 0;
  const train::LabelledImages train = synthetic_images(kImages - held_out, 11, device);
  const train::LabelledImages valid =
      held_out ? synthetic_images(held_out, 12, device) : train::LabelledImages{};
  TrainedModel out;
  train::TrainerHooks hooks;
  uint64_t allocations = Storage::allocations(device);
  hooks.on_epoch = [&](const train::EpochRecord&) {
    out.allocations_per_epoch.push_back(Storage::allocations(device) - allocations);
    allocations = Storage::allocations(device);
  };
  uint64_t at_second_step = 0;
  int64_t steps_seen = 0;
  hooks.on_step = [&](int, int64_t, int64_t) {
    if (++steps_seen == 2) at_second_step = Storage::allocations(device);
  };
  trainer.fit(train, valid, hooks);
  out.allocations_after_second_step = Storage::allocations(device) - at_second_step;
  for (nn::Parameter* p : model->parameters()) out.weights.push_back(p->value.to_vector());
  model->visit_buffers("", [&](const std::string&, Tensor& b) { out.weights.push_back(b.to_vector()); });
  out.history = trainer.history();
  out.steps = trainer.steps_done();
  if (const train::StepGraph* graph = trainer.step_graph()) {
    out.graph_captures = graph->captures();
    out.graph_replays = graph->replays();
    out.graph_failure = graph->failure();
  }
  return out;
}

}  // namespace keel::testing
