// A finished model's outcome, taken from its trainer and added to the run's results.
#include "member_outcome.h"

#include <fmt/format.h>

#include "keel/ops.h"
#include "keel/train/step_graph.h"

namespace keel::train::detail {

namespace {

constexpr const char* kWeights = "weights.";

// The first image a model validated each row on, as that model saw it.
void remember_validation_images(Results& results, const Member& member, const Tensor& images) {
  const int64_t rows = results.val_count.dim(0);
  if (!results.val_images.defined()) {
    results.val_images = Tensor::zeros({rows, images.dim(1), images.dim(2), images.dim(3)});
    results.val_image_set = Tensor::zeros({rows});
  }
  float* set = results.val_image_set.data();
  for (size_t i = 0; i < member.valid_rows.size(); ++i) {
    const int64_t row = member.valid_rows[i];
    if (set[row] != 0.0f) continue;
    const auto k = static_cast<int64_t>(i);
    results.val_images.rows(row, row + 1).copy_from(images.rows(k, k + 1));
    set[row] = 1.0f;
  }
}

}  // namespace

Checkpoint member_outcome(Trainer& trainer, nn::Module& model, const LabelledImages& valid,
                          const Tensor& test_images) {
  Checkpoint c;
  c.texts["records"] = encode_records(trainer.history());
  c.ints["steps"] = trainer.steps_done();
  c.ints["skipped_steps"] = trainer.skipped_steps();
  c.ints["loss_scale_skipped_steps"] = trainer.loss_scale_skipped_steps();
  c.reals["loss_scale"] = trainer.loss_scale();
  c.ints["best_epoch"] = trainer.best_epoch();
  const StepGraph* graph = trainer.step_graph();
  c.ints["graph_captures"] = graph ? graph->captures() : 0;
  c.ints["graph_replays"] = graph ? graph->replays() : 0;
  c.reals["train_seconds"] = trainer.train_seconds();
  if (valid.size() > 0) {
    const Evaluation e = trainer.evaluate_final(valid);
    c.reals["val_accuracy"] = e.accuracy;
    c.tensors["val_probabilities"] = e.probabilities;
    c.tensors["val_images"] = valid.images.to(Device::cpu);
  }
  c.tensors["test_probabilities"] = trainer.predict_final(test_images).to(Device::cpu).clone();
  save_model_weights(c, kWeights, model);
  return c;
}

void add_outcome(Results& results, Checkpoint& finished_models, const Member& member,
                 const Checkpoint& outcome) {
  const std::vector<EpochRecord> records = decode_records(outcome.text_at("records"));
  results.records.insert(results.records.end(), records.begin(), records.end());
  results.steps += outcome.int_at("steps");
  results.skipped_steps += outcome.int_at("skipped_steps");
  results.loss_scale_skipped_steps += outcome.int_at("loss_scale_skipped_steps");
  results.last_loss_scale = outcome.real_at("loss_scale");
  results.graph_captures += static_cast<int>(outcome.int_at("graph_captures"));
  results.graph_replays += outcome.int_at("graph_replays");
  results.train_seconds += outcome.real_at("train_seconds");
  results.last_best_epoch = static_cast<int>(outcome.int_at("best_epoch"));
  if (outcome.tensors.count("val_probabilities")) {
    results.member_accuracies.push_back(outcome.real_at("val_accuracy"));
    remember_validation_images(results, member, outcome.tensor_at("val_images"));
    const Tensor& probabilities = outcome.tensor_at("val_probabilities");
    const std::vector<float> probs = probabilities.to_vector();
    const int64_t k = probabilities.dim(1);
    float* sums = results.val_prob_sum.data();
    float* counts = results.val_count.data();
    for (size_t i = 0; i < member.valid_rows.size(); ++i) {
      const int64_t row = member.valid_rows[i];
      for (int64_t c = 0; c < k; ++c) sums[row * k + c] += probs[i * k + c];
      counts[row] += 1.0f;
    }
  }
  add(results.test_prob_sum, outcome.tensor_at("test_probabilities"), results.test_prob_sum);
  const std::string prefix = fmt::format("model{}.", member.index);
  const std::string weights = kWeights;
  for (const auto& [key, tensor] : outcome.tensors) {
    if (key.rfind(weights, 0) == 0)
      finished_models.tensors[prefix + key.substr(weights.size())] = tensor;
  }
  ++results.members_done;
}

}  // namespace keel::train::detail
