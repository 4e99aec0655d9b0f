// Trainer: the training loop of one model. Random streams are derived from (seed, epoch, step), so a
// run stopped anywhere and resumed from its checkpoint continues with exactly the same numbers.
#include "keel/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <type_traits>

#include <fmt/format.h>

#include "class_scores.h"
#include "common/stopwatch.h"
#include "data_parallel.h"
#include "keel/dist.h"
#include "keel/error.h"
#include "keel/ops.h"
#include "keel/runtime.h"
#include "keel/train/step_graph.h"
#include "loss_scaling.h"
#include "soft_targets.h"
#include "step_checks.h"

namespace keel::train {

namespace {

// Distinct, reproducible seeds for the independent random streams of a run.
uint64_t mix(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
constexpr uint64_t kShuffleStream = 1000, kAugmentStream = 1u << 30, kDropoutStream = 7;
constexpr uint64_t kMixupStream = 1ull << 40, kTtaStream = 1ull << 50;
// fastai v1's Learner.TTA(beta=0.4): the weight of the plain prediction in the blend.
constexpr float kTtaPlainWeight = 0.4f;

// "NaN", "inf" or "-inf": the sign of a NaN means nothing to a reader.
std::string non_finite_text(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "inf" : "-inf";
}

std::vector<int64_t> permutation(int64_t n, Generator& gen) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
    std::swap(order[static_cast<size_t>(i)],
              order[static_cast<size_t>(gen.next_below(static_cast<uint64_t>(i + 1)))]);
  }
  return order;
}

}  // namespace

Trainer::Trainer(TrainerOptions options, nn::Sequential& model, Device device, uint64_t seed,
                 int fold)
    : options_((validate(options), std::move(options))),
      model_(model),
      device_(device),
      seed_(seed),
      fold_(fold),
      pipeline_(options_.input, device),
      dropout_gen_(mix(seed, kDropoutStream)) {
  model_.to(device_);
  model_.set_generator(&dropout_gen_);
  model_.set_training(true);
  model_.set_precision(parse_precision(options_.precision));
  if (options_.precision == "fp16") {
    loss_scaling_ = std::make_unique<detail::LossScaling>(
        options_.train.loss_scale, options_.train.loss_scale_growth_interval, device_);
  }
  params_ = model_.parameters();
  optimizer_ = make_optimizer(options_.optimizer, params_);
  loss_sum_ = Tensor::zeros({1}, device_);
  skip_nonfinite_ = options_.train.on_nonfinite == "skip_step";
  checks_each_step_ = options_.train.grad_clip > 0 || skip_nonfinite_;
  if (options_.train.label_smoothing > 0 || options_.train.mixup > 0) {
    soft_loss_ = std::make_unique<detail::SoftTargetLoss>();
  }
  // A captured step cannot wait for the host's decision to clip or skip, so the graph path stays
  // off with those keys (run_titanic logs why); mixup changes its weights every step, and the
  // soft-target loss is kept off the captured path with it.
  if (options_.cuda_graph && device_ == Device::cuda && !checks_each_step_ && !soft_loss_) {
    step_graph_ = std::make_unique<StepGraph>(dropout_gen_, *optimizer_);
  }
  model_.visit_parameters("", [&](const std::string& name, nn::Parameter& p) {
    param_names_.push_back(name);
    weights_.push_back(&p.value);
    weight_names_.push_back(fmt::format("parameter `{}`", name));
  });
  model_.visit_buffers("", [&](const std::string& name, Tensor& b) {
    weights_.push_back(&b);
    weight_names_.push_back(fmt::format("buffer `{}`", name));
  });
  step_sums_ = std::make_unique<detail::SquareSums>();
  weight_sums_ = std::make_unique<detail::SquareSums>();
  weight_sums_->reserve_flags(weights_);
}

Trainer::~Trainer() = default;

void Trainer::share_batches_across_ranks() {
  const int world = dist::world_size();
  if (world == 1) return;
  if (options_.train.mixup > 0) {
    throw Error(
        ErrorKind::config,
        fmt::format("{}: train.mixup = {} blends each image with a partner from anywhere in the "
                    "global batch, which data-parallel training splits over {} processes: set "
                    "train.mixup: 0, or run with dist.mode: folds or one process",
                    options_.source, options_.train.mixup, world));
  }
  if (options_.train.batch_size % world != 0) {
    throw Error(ErrorKind::config,
                fmt::format("{}: train.batch_size = {} (the global batch) does not split evenly "
                            "over {} processes: use a batch size divisible by the number of "
                            "processes (e.g. {}) or another -np",
                            options_.source, options_.train.batch_size, world,
                            (options_.train.batch_size / world + 1) * world));
  }
  step_graph_.reset();  // a captured step cannot hold the all-reduce between backward and update
  data_parallel_ =
      std::make_unique<detail::DataParallel>(model_, device_, options_.train.sync_batch_norm);
}


std::vector<Trainer::Phase> Trainer::phases() const {
  std::vector<Phase> out;
  if (options_.train.frozen_epochs > 0) out.push_back({options_.train.frozen_epochs, true});
  out.push_back({options_.train.epochs, false});
  return out;
}

void Trainer::start_phase(const Phase& phase, int64_t steps_per_epoch) {
  std::vector<double> lrs = group_lrs(options_.optimizer, optimizer_->num_groups());
  // A frozen body (fastai's freeze()) gets no updates: its group's learning rate stays 0.
  if (phase.frozen && lrs.size() > 1) std::fill(lrs.begin(), lrs.end() - 1, 0.0);
  schedule_ = make_schedule(options_.schedule, std::move(lrs), phase.epochs * steps_per_epoch);
}

bool Trainer::fit(const LabelledImages& train, const LabelledImages& valid, const TrainerHooks& hooks) {
  if (!hooks.model_name.empty()) model_name_ = hooks.model_name;
  const int64_t batch = options_.train.batch_size;
  const int64_t steps_per_epoch =
      options_.train.drop_last ? train.size() / batch : (train.size() + batch - 1) / batch;
  if (steps_per_epoch == 0) {
    throw Error(ErrorKind::config,
                fmt::format("{}: train.batch_size = {} is larger than the {} training images with "
                            "train.drop_last on: lower train.batch_size",
                            options_.source, batch, train.size()));
  }
  steps_per_epoch_ = steps_per_epoch;
  if (data_parallel_) start_data_parallel(train.size());
  const std::vector<Phase> plan = phases();
  while (phase_ < static_cast<int>(plan.size()) && !early_stopped_) {
    const Phase phase = plan[static_cast<size_t>(phase_)];
    start_phase(phase, steps_per_epoch);
    Stopwatch clock;
    if (!run_epoch(train, hooks, steps_per_epoch)) return false;
    // Only a CUDA run has queued work to wait for; on the CPU the CUDA runtime stays untouched.
    if (device_ == Device::cuda) keel::synchronize();
    const double seconds = clock.lap();
    train_seconds_ += seconds;
    if (data_parallel_) agree_across_ranks();
    const double loss_sum = loss_sum_.item();  // on a GPU, the epoch's one read of the loss
    check_state(loss_sum);
    // Advance the position before finish_epoch saves it, so a resume starts at the next epoch.
    if (++epoch_in_phase_ == phase.epochs) {
      ++phase_;
      epoch_in_phase_ = 0;
      step_in_phase_ = 0;
    }
    finish_epoch(valid, hooks, seconds, loss_sum);
    const int stop_after = options_.train.stop_after_epochs;
    if (stop_after > 0 && epochs_done_ >= stop_after && !finished(plan)) {
      stopped_after_epochs_ = true;
      if (hooks.save_checkpoint) hooks.save_checkpoint(TrainerHooks::Save::stop);
      return false;
    }
  }
  return true;
}

bool Trainer::finished(const std::vector<Phase>& plan) const {
  return early_stopped_ || phase_ >= static_cast<int>(plan.size());
}

bool Trainer::run_epoch(const LabelledImages& train, const TrainerHooks& hooks,
                        int64_t steps_per_epoch) {
  // A fresh generator per epoch: the order depends on (seed, epoch) only, so a resumed run
  // regenerates the interrupted epoch's order and skips the batches already done.
  Generator shuffle_gen(mix(seed_, kShuffleStream + static_cast<uint64_t>(epochs_done_)));
  const std::vector<int64_t> order = permutation(train.size(), shuffle_gen);
  // The epoch's whole order goes to the device at once: a copy per step would make the host wait
  // for the device at every step (the host buffer must outlive the copy) instead of running ahead.
  host_order_.ensure({train.size()}, Device::cpu);
  float* host = host_order_.data();
  for (size_t i = 0; i < order.size(); ++i) host[i] = static_cast<float>(order[i]);
  epoch_order_.ensure(host_order_.shape(), device_);
  epoch_order_.copy_from(host_order_);
  const int64_t batch = options_.train.batch_size;
  for (; step_in_epoch_ < steps_per_epoch; ++step_in_epoch_) {
    bool stop = hooks.stop_requested && hooks.stop_requested();
    if (data_parallel_) stop = dist::any(stop);  // every rank stops at the same step
    if (stop) {
      if (data_parallel_) agree_across_ranks();
      check_state(loss_sum_.item());  // never a diverged state in the checkpoint
      if (hooks.save_checkpoint) hooks.save_checkpoint(TrainerHooks::Save::stop);
      return false;
    }
    const int64_t begin = step_in_epoch_ * batch;
    const int64_t end = std::min(begin + batch, train.size());
    schedule_->apply(*optimizer_, step_in_phase_);
    train_step(train, epoch_order_.rows(begin, end));
    report_graph_failure(hooks);
    ++step_in_phase_;
    ++global_step_;
    if (hooks.on_step) hooks.on_step(epochs_done_ + 1, step_in_epoch_ + 1, steps_per_epoch);
  }
  return true;
}

void Trainer::train_step(const LabelledImages& train, const Tensor& batch_indices) {
  Generator augment_gen(mix(seed_, kAugmentStream + static_cast<uint64_t>(global_step_)));
  const Tensor rows = data_parallel_ ? my_share(batch_indices, augment_gen) : batch_indices;
  begin_pass(rows.dim(0));
  gather_rows(train.images, rows, batch_images_);
  gather_rows(train.labels, rows, batch_labels_);
  const Tensor& input = options_.train.mixup > 0
                            ? mix_batch(pipeline_.train_input(batch_images_, augment_gen))
                            : pipeline_.train_input(batch_images_, augment_gen);
  // Only full batches go through the graph: a last partial batch would need a capture of its own.
  const bool full_batch = batch_indices.dim(0) == options_.train.batch_size;
  if (step_graph_ && full_batch &&
      step_graph_->run(input, batch_labels_, [&] { compute_step(input); })) {
    return;
  }
  compute_step(input);
}

void Trainer::start_data_parallel(int64_t train_rows) {
  const int world = dist::world_size();
  const int64_t last = train_rows % options_.train.batch_size;
  if (!options_.train.drop_last && last > 0 && last < world) {
    throw Error(ErrorKind::config,
                fmt::format("{}: with train.drop_last off, the last batch of each epoch has {} "
                            "row(s), too few to give each of the {} processes one: set "
                            "train.drop_last: true or run with at most {} processes",
                            options_.source, last, world, last));
  }
  data_parallel_->broadcast_weights();
}

Tensor Trainer::my_share(const Tensor& batch_indices, Generator& augment_gen) {
  const int64_t rows = batch_indices.dim(0);
  const detail::RowRange mine = data_parallel_->shard(rows);
  // The random draws of the rows before this share are skipped, so each row gets the
  // augmentation and dropout masks the single-process run gives it.
  pipeline_.skip_train_draws(mine.begin, augment_gen);
  dropout_gen_.set_row_shard(static_cast<uint64_t>(mine.begin), static_cast<uint64_t>(mine.size()),
                             static_cast<uint64_t>(rows));
  grad_share_ = static_cast<float>(mine.size()) / static_cast<float>(rows);
  return batch_indices.rows(mine.begin, mine.end);
}

void Trainer::agree_across_ranks() {
  data_parallel_->broadcast_buffers();
  // Each rank summed the mean losses of its own shares: their mean is the global batches' mean.
  double loss_sum = loss_sum_.item();
  dist::all_reduce(std::span<double>(&loss_sum, 1), dist::Reduce::mean);
  loss_sum_.fill_(static_cast<float>(loss_sum));
}

// The model's saved views of the last pass still show the input buffers (batch_images_, the
// pipeline's), so a pass of another size (an evaluation, a last partial batch, the full batch after
// either) releases them first: the buffers are then resized within their allocations instead of
// replaced, and a captured training step stays valid (see nn::Module::release_views).
void Trainer::begin_pass(int64_t rows) {
  if (rows == pass_rows_) return;
  model_.release_views();
  pass_rows_ = rows;
}

const Tensor& Trainer::mix_batch(const Tensor& input) {
  // Its own stream per step: a resumed run draws the same partners and weight.
  Generator gen(mix(seed_, kMixupStream + static_cast<uint64_t>(global_step_)));
  mixup_lambda_ = detail::sample_mixup_lambda(options_.train.mixup, gen);
  const std::vector<int64_t> order = permutation(input.dim(0), gen);
  const std::vector<float> partners(order.begin(), order.end());
  mix_partners_ = Tensor::from_data({input.dim(0)}, partners, device_);
  gather_rows(batch_labels_, mix_partners_, partner_labels_);
  detail::mix_rows(input, mix_partners_, mixup_lambda_, mixed_input_, mix_scratch_);
  return mixed_input_;
}

void Trainer::compute_step(const Tensor& input) {
  const Tensor& logits = model_.forward(input);
  if (soft_loss_) {
    detail::SoftTargets targets;
    targets.labels = &batch_labels_;
    targets.partner_labels = options_.train.mixup > 0 ? &partner_labels_ : nullptr;
    targets.lambda = options_.train.mixup > 0 ? mixup_lambda_ : 1.0f;
    targets.epsilon = static_cast<float>(options_.train.label_smoothing);
    soft_loss_->forward_backward(logits, targets, loss_, probs_, dlogits_);
  } else {
    softmax_cross_entropy_forward(logits, batch_labels_, loss_, probs_);
    softmax_cross_entropy_backward(probs_, batch_labels_, dlogits_);
  }
  // Data-parallel: the loss gradient of this rank's mean weighted by its share of the rows, so the
  // ranks' gradients add up to that of the global batch's mean.
  if (data_parallel_ && grad_share_ != 1.0f) scale(dlogits_, grad_share_, dlogits_);
  if (loss_scaling_) loss_scaling_->scale_loss_gradient(dlogits_);
  model_.backward(dlogits_);
  // The scaler looks at the summed gradients, so an overflow on any rank skips the step on all.
  if (data_parallel_) data_parallel_->sum_gradients();
  if (loss_scaler_took_step()) return;
  if (!step_is_finite()) return;  // train.on_nonfinite: skip_step drops this update
  add(loss_sum_, loss_, loss_sum_);  // summed on the device: no synchronisation per step
  optimizer_->step();
  if (loss_scaling_) loss_scaling_->update();
}

bool Trainer::loss_scaler_took_step() {
  // A non-finite loss is no matter of scale: the gradients stay scaled and step_is_finite applies
  // train.on_nonfinite, as at fp32.
  if (!loss_scaling_ || !std::isfinite(loss_.item())) return false;
  if (!loss_scaling_->unscale(params_)) return false;
  if (loss_scaling_->at_minimum() && !skip_nonfinite_) {
    diverged("the gradients are not finite even at the loss scale's minimum of 1, so no scale "
             "can keep them within fp16 (precision: fp16)",
             true);
  }
  loss_scaling_->update();
  add(loss_sum_, loss_, loss_sum_);  // the loss itself is finite: only the update is dropped
  return true;
}

int64_t Trainer::loss_scale_skipped_steps() const {
  return loss_scaling_ ? static_cast<int64_t>(loss_scaling_->state().skipped_steps) : 0;
}

double Trainer::loss_scale() const {
  return loss_scaling_ ? static_cast<double>(loss_scaling_->state().scale) : NAN;
}

bool Trainer::step_is_finite() {
  if (!checks_each_step_) {
    // On the CPU the loss is already in host memory; on a GPU reading it would wait for the device
    // at every step, so fit checks the epoch's loss sum instead.
    if (device_ == Device::cpu && !std::isfinite(loss_.data()[0])) {
      diverged("the training loss became " + non_finite_text(loss_.data()[0]), true);
    }
    return true;
  }
  std::vector<const Tensor*> grads;
  for (nn::Parameter* p : params_) grads.push_back(&p->grad);
  const std::vector<float> sums = step_sums_->read(grads, &loss_);
  const float loss = sums.back();
  double norm_sq = 0.0;
  size_t first_bad = grads.size();
  for (size_t i = 0; i < grads.size(); ++i) {
    norm_sq += sums[i];
    if (first_bad == grads.size() && !std::isfinite(sums[i])) first_bad = i;
  }
  const double norm = std::sqrt(norm_sq);
  std::string problem;
  if (!std::isfinite(loss)) {
    problem = "the training loss became " + non_finite_text(loss);
  } else if (!std::isfinite(norm)) {
    problem = fmt::format("the gradient norm became {} (first non-finite gradient: parameter `{}`)",
                          non_finite_text(norm),
                          first_bad < grads.size() ? param_names_[first_bad] : "?");
  }
  if (problem.empty()) {
    clip_gradients(norm);
    return true;
  }
  if (!skip_nonfinite_) diverged(problem, true);
  ++skipped_steps_;
  ++skipped_in_epoch_;
  return false;
}

void Trainer::clip_gradients(double norm) {
  if (options_.train.grad_clip <= 0) return;
  const double factor = detail::clip_factor(norm, options_.train.grad_clip);
  if (factor >= 1.0) return;
  for (nn::Parameter* p : params_) scale(p->grad, static_cast<float>(factor), p->grad);
}

void Trainer::check_state(double loss_sum) {
  if (device_ == Device::cuda && !checks_each_step_ && !std::isfinite(loss_sum)) {
    diverged(fmt::format("the training loss summed over the epoch's {} step(s) so far is {} (on "
                         "the GPU the loss is summed on the device and read once per epoch, so the "
                         "step is not known; train.grad_clip or train.on_nonfinite: skip_step read "
                         "it every step)",
                         step_in_epoch_, non_finite_text(loss_sum)),
             false);
  }
  const std::vector<float> flags = weight_sums_->non_finite_flags(weights_);
  for (size_t i = 0; i < flags.size(); ++i) {
    if (!std::isfinite(flags[i])) {
      diverged(fmt::format("the values of {} are no longer all finite (weights are checked once "
                           "per epoch, so the step is not known)",
                           weight_names_[i]),
               false);
    }
  }
}

void Trainer::diverged(const std::string& what, bool step_known) const {
  const int epoch = epochs_done_ + 1;
  const std::string where =
      step_known ? fmt::format("at epoch {}, step {} of {} (step {} of the run)", epoch,
                               step_in_epoch_ + 1, steps_per_epoch_, global_step_ + 1)
                 : fmt::format("during epoch {}", epoch);
  std::string finding = fmt::format("training diverged in {} {}: {}.", model_name_, where, what);
  std::string lrs = fmt::format("optimizer.lr (now {})", options_.optimizer.lr);
  if (optimizer_->num_groups() > 1) {
    lrs += fmt::format(" or optimizer.body_lr (now {})", options_.optimizer.body_lr);
  }
  std::string advice = fmt::format(
      "Try a lower {}, a lower optimizer.weight_decay (now {}), or train.grad_clip (now {}, e.g. "
      "1.0) to bound each update; train.on_nonfinite: skip_step (now {}) drops steps whose loss or "
      "gradients are not finite instead of stopping.",
      lrs, options_.optimizer.weight_decay, options_.train.grad_clip, options_.train.on_nonfinite);
  throw Diverged(std::move(finding), std::move(advice));
}

void Trainer::report_graph_failure(const TrainerHooks& hooks) {
  if (!step_graph_ || graph_failure_reported_ || step_graph_->failure().empty()) return;
  graph_failure_reported_ = true;
  if (hooks.log) {
    hooks.log(fmt::format("cuda_graph: the training step could not be captured as a CUDA graph ({}); "
                          "training goes on launching each kernel",
                          step_graph_->failure()));
  }
}

void Trainer::finish_epoch(const LabelledImages& valid, const TrainerHooks& hooks, double seconds,
                           double loss_sum) {
  EpochRecord record;
  record.epoch = ++epochs_done_;
  record.fold = fold_;
  const int64_t summed_steps = step_in_epoch_ - skipped_in_epoch_;
  record.train_loss = summed_steps > 0 || skipped_in_epoch_ == 0
                          ? loss_sum / static_cast<double>(std::max<int64_t>(summed_steps, 1))
                          : NAN;  // every step skipped: no loss to report
  if (skipped_in_epoch_ > 0 && hooks.log) {
    hooks.log(fmt::format("epoch {}: skipped {} of {} steps whose loss or gradients were not "
                          "finite (train.on_nonfinite: skip_step)",
                          record.epoch, skipped_in_epoch_, step_in_epoch_));
  }
  if (loss_scaling_) {
    const LossScaleState scaler = loss_scaling_->state();
    const float overflows = scaler.skipped_steps - overflows_before_epoch_;
    overflows_before_epoch_ = scaler.skipped_steps;
    if (overflows > 0 && hooks.log) {
      hooks.log(fmt::format("epoch {}: the fp16 loss scaler skipped {} of {} steps whose "
                            "gradients overflowed; loss scale now {}",
                            record.epoch, overflows, step_in_epoch_, scaler.scale));
    }
  }
  record.val_loss = record.val_accuracy = NAN;
  if (valid.size() > 0) {
    const Evaluation e = evaluate(valid);
    record.val_loss = e.loss;
    record.val_accuracy = e.accuracy;
  }
  record.lr = optimizer_->lr(optimizer_->num_groups() - 1);
  record.beta1 = optimizer_->momentum(optimizer_->num_groups() - 1);
  record.seconds = seconds;
  history_.push_back(record);
  loss_sum_.zero_();
  step_in_epoch_ = 0;
  skipped_in_epoch_ = 0;

  const bool better = improved(record);
  if (better) {
    best_value_ =
        options_.train.best_metric == "val_accuracy" ? record.val_accuracy : record.val_loss;
    best_epoch_ = record.epoch;
    epochs_without_improvement_ = 0;
    // With best_metric "last" the best epoch is always the latest: its weights are the model's own.
    if (options_.train.best_metric != "last") snapshot_best();
  } else {
    ++epochs_without_improvement_;
    if (options_.train.patience > 0 && epochs_without_improvement_ >= options_.train.patience) {
      early_stopped_ = true;
      if (hooks.log)
        hooks.log(fmt::format("early stopping after epoch {}: no improvement of {} in {} epochs",
                              record.epoch, options_.train.best_metric, options_.train.patience));
    }
  }
  if (hooks.on_epoch) hooks.on_epoch(record);
  if (hooks.save_checkpoint) {
    if (better && options_.train.best_metric != "last")
      hooks.save_checkpoint(TrainerHooks::Save::best);
    hooks.save_checkpoint(TrainerHooks::Save::epoch);
  }
}

bool Trainer::improved(const EpochRecord& r) const {
  const std::string& metric = options_.train.best_metric;
  if (metric == "last" || std::isnan(r.val_loss)) return true;
  if (best_epoch_ < 0) return true;
  return metric == "val_accuracy" ? r.val_accuracy > best_value_ : r.val_loss < best_value_;
}

void Trainer::snapshot_best() {
  best_weights_.clear();
  for (nn::Parameter* p : params_) best_weights_.push_back(p->value.to(Device::cpu).clone());
  model_.visit_buffers("", [&](const std::string&, Tensor& b) {
    best_weights_.push_back(b.to(Device::cpu).clone());
  });
}

void Trainer::restore_best() {
  if (best_weights_.empty() || options_.train.best_metric == "last") return;
  size_t i = 0;
  for (nn::Parameter* p : params_) p->value.copy_from(best_weights_[i++]);
  model_.visit_buffers("", [&](const std::string&, Tensor& b) { b.copy_from(best_weights_[i++]); });
}

Evaluation Trainer::evaluate(const LabelledImages& data) {
  return score(data, predict_probabilities(data.images));
}

Evaluation Trainer::evaluate_final(const LabelledImages& data) {
  return score(data, predict_final(data.images));
}

Evaluation Trainer::score(const LabelledImages& data, const Tensor& probabilities) const {
  Evaluation e;
  e.probabilities = probabilities;
  const std::vector<float> probs = e.probabilities.to_vector();
  const std::vector<float> labels = data.labels.to_vector();
  const int64_t k = e.probabilities.dim(1);
  double loss = 0.0;
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* row = probs.data() + i * static_cast<size_t>(k);
    const auto label = static_cast<int64_t>(labels[i]);
    loss += row_log_loss(row[label]);
    correct += predicted_class(row, k) == label;
  }
  e.loss = loss / static_cast<double>(labels.size());
  e.accuracy = static_cast<double>(correct) / static_cast<double>(labels.size());
  return e;
}

Tensor Trainer::predict_probabilities(const Tensor& images) {
  return predict_with(images, [&](const Tensor& raw, int64_t) -> const Tensor& {
    return pipeline_.eval_input(raw);
  });
}

Tensor Trainer::predict_final(const Tensor& images) {
  Tensor blend = predict_probabilities(images);
  const int passes = options_.tta;
  if (passes == 0 || !options_.input.augment) return blend;
  scale(blend, kTtaPlainWeight, blend);
  for (int pass = 0; pass < passes; ++pass) {
    Tensor augmented = predict_with(images, [&](const Tensor& raw, int64_t begin) -> const Tensor& {
      // Its own stream per pass and batch: the same augmentations on every run and resume.
      Generator gen(mix(seed_, kTtaStream + static_cast<uint64_t>(pass) * 1000003ull +
                                   static_cast<uint64_t>(begin)));
      return pipeline_.train_input(raw, gen);
    });
    scale(augmented, (1.0f - kTtaPlainWeight) / static_cast<float>(passes), augmented);
    add(blend, augmented, blend);
  }
  return blend;
}

Tensor Trainer::predict_with(const Tensor& images,
                             const std::function<const Tensor&(const Tensor&, int64_t)>& input) {
  model_.set_training(false);
  const int64_t n = images.dim(0), batch = options_.train.eval_batch_size;
  Tensor out({n, options_.num_classes}, Device::cpu);
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t end = std::min(begin + batch, n);
    begin_pass(end - begin);
    const Tensor& logits = model_.forward(input(images.rows(begin, end), begin));
    // Softmax through the loss op: the labels (all class 0) only affect the loss, not probs.
    eval_labels_.ensure({end - begin}, device_);
    eval_labels_.zero_();
    softmax_cross_entropy_forward(logits, eval_labels_, eval_loss_, eval_probs_);
    out.rows(begin, end).copy_from(eval_probs_);
  }
  model_.set_training(true);
  return out;
}

template <class Self, class Fn>
void Trainer::visit_progress(Self& self, Fn&& fn) {
  fn("phase", self.phase_);
  fn("epoch_in_phase", self.epoch_in_phase_);
  fn("step_in_epoch", self.step_in_epoch_);
  fn("step_in_phase", self.step_in_phase_);
  fn("global_step", self.global_step_);
  fn("epochs_done", self.epochs_done_);
  fn("best_epoch", self.best_epoch_);
  fn("epochs_without_improvement", self.epochs_without_improvement_);
  fn("early_stopped", self.early_stopped_);
  fn("skipped_steps", self.skipped_steps_);
  fn("skipped_in_epoch", self.skipped_in_epoch_);
  fn("best_value", self.best_value_);
  fn("train_seconds", self.train_seconds_);
}

namespace {
// Absent from checkpoints written before train.on_nonfinite existed: nothing was skipped then.
bool zero_when_absent(const std::string& key) {
  return key == "skipped_steps" || key == "skipped_in_epoch";
}
}  // namespace

void Trainer::save_state(Checkpoint& c) const {
  const std::string p = fmt::format("member{}.", fold_);
  visit_progress(*this, [&](const std::string& key, const auto& field) {
    if constexpr (std::is_floating_point_v<std::decay_t<decltype(field)>>) {
      c.reals[p + key] = field;
    } else {
      c.ints[p + key] = static_cast<int64_t>(field);
    }
  });
  c.ints[p + "dropout_offset"] = static_cast<int64_t>(dropout_gen_.offset());
  c.ints[p + "optimizer_steps"] = optimizer_->steps();
  c.reals[p + "loss_sum"] = loss_sum_.item();
  if (loss_scaling_) loss_scaling_->save(c, p);
  c.texts[p + "history"] = encode_records(history_);
  save_model_weights(c, p, model_);
  optimizer_->visit_state([&](const std::string& name, Tensor& s) {
    c.tensors[p + "optim." + name] = s.to(Device::cpu).clone();
  });
  for (size_t i = 0; i < best_weights_.size(); ++i) {
    c.tensors[fmt::format("{}best.{}", p, i)] = best_weights_[i];
  }
}

void Trainer::load_state(const Checkpoint& c) {
  const std::string p = fmt::format("member{}.", fold_);
  visit_progress(*this, [&](const std::string& key, auto& field) {
    using Field = std::decay_t<decltype(field)>;
    if constexpr (std::is_floating_point_v<Field>) {
      field = c.real_at(p + key);
    } else if (zero_when_absent(key) && !c.ints.count(p + key)) {
      field = Field{0};
    } else {
      field = static_cast<Field>(c.int_at(p + key));
    }
  });
  dropout_gen_.set_state(dropout_gen_.seed(), static_cast<uint64_t>(c.int_at(p + "dropout_offset")));
  optimizer_->set_steps(c.int_at(p + "optimizer_steps"));
  loss_sum_.fill_(static_cast<float>(c.real_at(p + "loss_sum")));
  if (loss_scaling_) {
    loss_scaling_->load(c, p);
    overflows_before_epoch_ = loss_scaling_->state().skipped_steps;
  }
  history_ = decode_records(c.text_at(p + "history"));
  load_model_weights(c, p, model_);
  optimizer_->visit_state(
      [&](const std::string& name, Tensor& s) { restore_tensor(c, p + "optim." + name, s); });
  best_weights_.clear();
  for (size_t i = 0; c.tensors.count(fmt::format("{}best.{}", p, i)); ++i) {
    best_weights_.push_back(c.tensor_at(fmt::format("{}best.{}", p, i)).clone());
  }
}

}  // namespace keel::train
