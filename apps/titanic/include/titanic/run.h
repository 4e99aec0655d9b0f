// The Titanic job end to end, as one library call: CSVs -> features -> images -> training
// (hold-out, k-fold or seed ensemble) -> submission.csv, probabilities, metrics, summary.json,
// report.html.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "titanic/config.h"

namespace keel::train {

struct RunOptions {
  std::string out_dir = "out";
  std::string resume_path;   // continue training from this checkpoint
  std::string predict_path;  // inference only: load this checkpoint, write the submission
  // Also write the finished model(s) as ONNX (keel/io/onnx_export.h): an ensemble as one graph
  // that averages its models' probabilities, as the submission does.
  std::string export_onnx_path;
  bool features_only = false;
  bool quiet = false;
  bool progress_bar = false;  // a live bar (terminal) instead of one line per epoch
  std::function<void(const std::string&)> log;  // one line of human-readable progress
  // With progress_bar: the bar's current text (starts with '\r', no newline), after every step.
  std::function<void(const std::string&)> progress;
};

struct RunResult {
  bool stopped_early = false;  // train.stop_after_epochs stopped it; resume with --resume
  std::string device;
  double val_accuracy = 0.0;  // hold-out accuracy, or the k-fold mean
  double cv_mean = 0.0, cv_std = 0.0;
  int cv_folds = 0;
  int64_t steps = 0;
  double train_seconds =
      0.0;  // inside the training steps, the earlier sessions of a resume included
  // Wall-clock phases of this run, in seconds: reading CSVs and building images; waiting for the
  // GPU to finish starting (it starts on a thread during data preparation); every model's epochs
  // with their evaluation and checkpoints; and writing the outputs. Within the models phase:
  // step_seconds in training steps, checkpoint_seconds on checkpoints (building them, and writing
  // them or waiting for a background write).
  double data_seconds = 0.0, device_wait_seconds = 0.0, models_seconds = 0.0, outputs_seconds = 0.0;
  double step_seconds = 0.0, checkpoint_seconds = 0.0;
};

// Ctrl-C: the program's signal handler calls request_interrupt(); training stops after the current
// step, saves <out>/checkpoints/last.ckpt and throws Interrupted.
void request_interrupt();
bool interrupt_requested();
void clear_interrupt();
struct Interrupted {
  std::string checkpoint_path;
};

RunResult run_titanic(const Config& config, const RunOptions& options);

}  // namespace keel::train
