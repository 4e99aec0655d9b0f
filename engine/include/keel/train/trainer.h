// Trainer: mini-batch training of one model with AdamW/SGD and a one-cycle (or other) schedule,
// evaluation, best-epoch tracking, early stopping, and a checkpointable state that resumes exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keel/error.h"
#include "keel/nn/sequential.h"
#include "keel/optim/optimizer.h"
#include "keel/optim/schedule.h"
#include "keel/random.h"
#include "keel/train/checkpoint.h"
#include "keel/train/epoch_record.h"
#include "keel/train/input_pipeline.h"
#include "keel/train/trainer_options.h"

namespace keel::train {

class StepGraph;
namespace detail {
class SquareSums;
class SoftTargetLoss;
class LossScaling;
class DataParallel;
}

// Thrown by Trainer::fit when the loss, the gradients or the weights stop being finite (kind
// runtime, exit code 3). The message is the finding then the advice; a caller that knows more
// (which files were not written) puts its own sentence between them.
class Diverged : public Error {
 public:
  Diverged(std::string finding, std::string advice)
      : Error(ErrorKind::runtime, finding + " " + advice), finding_(std::move(finding)),
        advice_(std::move(advice)) {}
  const std::string& finding() const { return finding_; }
  const std::string& advice() const { return advice_; }

 private:
  std::string finding_, advice_;
};

// Images (N, C, S, S) with values in [0, 1] and labels (N) as floats, both on the training device.
struct LabelledImages {
  Tensor images;
  Tensor labels;
  int64_t size() const { return images.defined() ? images.dim(0) : 0; }
};

struct Evaluation {
  double loss = 0.0;
  double accuracy = 0.0;
  Tensor probabilities;  // (N, K) on the CPU
};

// Called after every epoch with its record; return true to stop training (Ctrl-C).
struct TrainerHooks {
  std::function<void(const EpochRecord&)> on_epoch;
  // After every step: (epoch being trained, 1-based; steps done in it; steps per epoch).
  std::function<void(int, int64_t, int64_t)> on_step;
  std::function<void(const std::string&)> log;
  std::function<bool()> stop_requested;
  // Saves the trainer's state (the caller adds its own entries): after each epoch (`epoch`, and
  // `best` when it improved) and when training stops before its end (`stop`).
  enum class Save { epoch, best, stop };
  std::function<void(Save)> save_checkpoint;
  // How messages name this model ("model 2/5 (fold 2 of 5, repeat 1)"); empty: "the model".
  std::string model_name;
};

class Trainer {
 public:
  // Throws keel::Error(config) for options that validate() refuses.
  Trainer(TrainerOptions options, nn::Sequential& model, Device device, uint64_t seed, int fold);
  ~Trainer();

  // Data-parallel training (dist.mode: data under mpirun): every rank of the job calls fit with
  // the same data and trains its share of each global batch of train.batch_size rows; the model
  // starts from rank 0's weights and the summed gradients keep the ranks' weights equal. Every
  // rank must call it, before fit. Throws keel::Error (config) for what cannot be shared:
  // train.mixup (its partners span the whole batch), a batch size the world size does not divide.
  void share_batches_across_ranks();

  // Trains the configured phases (frozen epochs, then epochs), continuing from a restored state.
  // Returns false when stopped before the end, by hooks.stop_requested or after
  // train.stop_after_epochs (stopped_after_epochs() tells which); the state is saved by then.
  // Throws Diverged on the first non-finite loss (each step on the CPU; on a GPU the epoch's loss
  // sum, unless train.grad_clip or skip_step already read it each step), gradient norm (when those
  // keys are on) or weight (each epoch), before that state is saved: a checkpoint is always finite.
  bool fit(const LabelledImages& train, const LabelledImages& valid, const TrainerHooks& hooks);

  Evaluation evaluate(const LabelledImages& data);
  Tensor predict_probabilities(const Tensor& images);  // (N, K) on the CPU
  // The final model's predictions: with predict.tta > 0 (and data.augment), fastai v1's
  // test-time augmentation, 0.4 x the plain prediction + 0.6 x the mean over predict.tta
  // augmented passes; otherwise predict_probabilities. evaluate_final scores them.
  Tensor predict_final(const Tensor& images);
  Evaluation evaluate_final(const LabelledImages& data);

  // Whole training state under `prefix` ("member.") in a checkpoint, and back.
  void save_state(Checkpoint& checkpoint) const;
  void load_state(const Checkpoint& checkpoint);
  // After fit: replace the weights with those of the best epoch (by train.best_metric).
  void restore_best();

  bool stopped_after_epochs() const { return stopped_after_epochs_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  int best_epoch() const { return best_epoch_; }
  int64_t steps_done() const { return global_step_; }
  // Steps whose update was dropped for a non-finite loss or gradient (on_nonfinite: skip_step).
  int64_t skipped_steps() const { return skipped_steps_; }
  // precision fp16: steps the loss scaler skipped because their gradients overflowed, and its
  // scale now (0 and NaN without loss scaling).
  int64_t loss_scale_skipped_steps() const;
  double loss_scale() const;
  double train_seconds() const { return train_seconds_; }
  // The CUDA-graph path (its replays, and why it stopped if it did); null unless cuda_graph is on
  // and training runs on a GPU.
  const StepGraph* step_graph() const { return step_graph_.get(); }

 private:
  struct Phase {
    int epochs;
    bool frozen;
  };
  // fn(key, field) for every scalar of the training progress kept in a checkpoint (int, int64_t,
  // bool or double fields): save_state and load_state share this one list. Self is Trainer or
  // const Trainer.
  template <class Self, class Fn>
  static void visit_progress(Self& self, Fn&& fn);
  std::vector<Phase> phases() const;
  bool finished(const std::vector<Phase>& plan) const;
  void start_phase(const Phase& phase, int64_t steps_per_epoch);
  bool run_epoch(const LabelledImages& train, const TrainerHooks& hooks, int64_t steps_per_epoch);
  void train_step(const LabelledImages& train, const Tensor& batch_indices);
  // Data-parallel: checks the epoch's last batch can be shared and starts from rank 0's weights.
  void start_data_parallel(int64_t train_rows);
  // This rank's rows of a batch, with the random streams moved to their place in the batch.
  Tensor my_share(const Tensor& batch_indices, Generator& augment_gen);
  // Before an evaluation or a checkpoint: rank 0's running statistics, the ranks' mean loss sum.
  void agree_across_ranks();
  void begin_pass(int64_t rows);  // before a training or evaluation pass over `rows` images
  // Forward, loss, backward and update of the batch in batch_labels_ and `input`.
  void compute_step(const Tensor& input);
  // train.mixup: the batch blended with a permutation of itself; sets the step's soft targets.
  const Tensor& mix_batch(const Tensor& input);
  // The per-step guard, after the backward pass: false when the update is to be skipped. Clips
  // the gradients when train.grad_clip is on; throws Diverged when the run is to stop.
  bool step_is_finite();
  // precision fp16, after the backward pass: unscales the gradients; true when they overflowed
  // and the loss scaler took the step (skipped it and backed off). Throws Diverged when the scale
  // is already at its minimum and train.on_nonfinite says stop.
  bool loss_scaler_took_step();
  void clip_gradients(double norm);
  // The epoch-level guard, before any state is saved: the loss sum (on a GPU without per-step
  // checks) and every weight and buffer.
  void check_state(double loss_sum);
  [[noreturn]] void diverged(const std::string& what, bool step_known) const;
  void report_graph_failure(const TrainerHooks& hooks);
  void finish_epoch(const LabelledImages& valid, const TrainerHooks& hooks, double seconds,
                    double loss_sum);
  bool improved(const EpochRecord& record) const;
  // Softmax outputs over `images` in eval mode, each batch's input made by `input(raw, begin)`.
  Tensor predict_with(const Tensor& images,
                      const std::function<const Tensor&(const Tensor&, int64_t)>& input);
  Evaluation score(const LabelledImages& data, const Tensor& probabilities) const;
  void snapshot_best();

  const TrainerOptions options_;
  nn::Sequential& model_;
  Device device_;
  uint64_t seed_;
  int fold_;
  InputPipeline pipeline_;
  Generator dropout_gen_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<optim::Schedule> schedule_;
  std::vector<nn::Parameter*> params_;
  std::unique_ptr<StepGraph> step_graph_;  // when cuda_graph is on and training runs on a GPU
  std::unique_ptr<detail::DataParallel> data_parallel_;  // share_batches_across_ranks
  float grad_share_ = 1.0f;  // this rank's share of the step's rows (data-parallel)
  // Loss and gradient norms are read every step (one wait for a GPU per step) only for
  // train.grad_clip and on_nonfinite: skip_step, which need them to decide that step's update.
  bool checks_each_step_ = false;
  bool skip_nonfinite_ = false;
  std::vector<std::string> param_names_;
  std::vector<const Tensor*> weights_;     // every parameter, then every buffer
  std::vector<std::string> weight_names_;  // "parameter `3.weight`", "buffer `1.running_var`"
  std::unique_ptr<detail::SquareSums> step_sums_, weight_sums_;
  // train.label_smoothing or train.mixup: the loss over soft targets (null: plain labels).
  std::unique_ptr<detail::SoftTargetLoss> soft_loss_;
  std::unique_ptr<detail::LossScaling> loss_scaling_;  // precision fp16 only
  float overflows_before_epoch_ = 0.0f;  // for the epoch's log line (not checkpointed)
  float mixup_lambda_ = 1.0f;
  Tensor mix_partners_, partner_labels_, mixed_input_, mix_scratch_;
  std::string model_name_ = "the model";  // from hooks.model_name during fit
  int64_t steps_per_epoch_ = 0;
  bool graph_failure_reported_ = false;

  // Progress (checkpointed).
  int phase_ = 0;
  int epoch_in_phase_ = 0;
  int64_t step_in_epoch_ = 0;
  int64_t step_in_phase_ = 0;
  int64_t global_step_ = 0;
  int epochs_done_ = 0;
  int64_t skipped_steps_ = 0;
  int64_t skipped_in_epoch_ = 0;
  double best_value_ = 0.0;
  int best_epoch_ = -1;
  int epochs_without_improvement_ = 0;
  bool early_stopped_ = false;
  bool stopped_after_epochs_ = false;  // not checkpointed: a resumed run goes on to the end
  double train_seconds_ = 0.0;
  std::vector<EpochRecord> history_;
  std::vector<Tensor> best_weights_;  // parameters then buffers, on the CPU

  // Step buffers, reused.
  int64_t pass_rows_ = -1;  // images in the last training or evaluation pass
  Tensor host_order_, epoch_order_;  // the epoch's shuffled row order, on the host and the device
  Tensor batch_images_, batch_labels_, loss_, probs_, dlogits_, loss_sum_;
  // Evaluation's, kept like the model's own buffers: once they have grown to the evaluation batch,
  // an evaluation allocates no device memory and a captured training step stays valid across it.
  Tensor eval_labels_, eval_loss_, eval_probs_;
};

}  // namespace keel::train
