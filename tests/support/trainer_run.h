// One small model trained by keel::train::Trainer on synthetic images, for the tests that compare
// two ways of running the same training (the CUDA-graph path against launching each kernel).
#pragma once

#include <string>
#include <vector>

#include "keel/tensor.h"
#include "titanic/config.h"
#include "titanic/outputs.h"

namespace keel::testing {

// The layers of configs/small_cnn.yaml (conv, batch norm, ReLU, max pool, dropout, linear) with
// AdamW and a one-cycle schedule that cycles beta1, on 6x6 single-channel images; 3 epochs of
// 3 steps at batch 64 with 40 validation images. Tests change what they vary.
Config small_training_config();

struct TrainedModel {
  std::vector<std::vector<float>> weights;  // every parameter, then every buffer (running stats)
  std::vector<train::EpochRecord> history;
  int graph_captures = 0;
  int64_t graph_replays = 0;
  std::string graph_failure;  // why the CUDA-graph path turned itself off, if it did
  int64_t steps = 0;          // optimizer steps taken
  // Tensor storages allocated on the training device during each epoch (its steps and evaluation).
  std::vector<uint64_t> allocations_per_epoch;
  // Tensor storages allocated on the training device after the second optimizer step (where a
  // GPU run captures its training step as a CUDA graph) until the end of training.
  uint64_t allocations_after_second_step = 0;
};

// Trains a freshly built model (seeded by config.seed) on 232 synthetic images, 40 of them held
// out when config.train.val_fraction > 0, and returns its final state.
TrainedModel train_synthetic(const Config& config, Device device);

}  // namespace keel::testing
