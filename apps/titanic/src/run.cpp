// run_titanic: wires config to library calls — data, the plan of models, one Trainer per model,
// checkpoints after every epoch (resumable, Ctrl-C safe), then the outputs of run_outputs.cpp.
#include "titanic/run.h"

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <unistd.h>

#include "common/stopwatch.h"
#include "dist_plan.h"
#include "keel/dist.h"
#include "keel/error.h"
#include "keel/io/onnx_export.h"
#include "keel/ops.h"
#include "keel/runtime.h"
#include "keel/train/atomic_file.h"
#include "keel/train/input_pipeline.h"
#include "keel/train/trainer.h"
#include "member_outcome.h"
#include "run_outputs.h"
#include "run_plan.h"
#include "titanic/features.h"
#include "titanic/model_builder.h"
#include "titanic/pretrained.h"
#include "train/checkpoint_writer.h"

namespace keel::train {

namespace {
std::atomic<bool> g_interrupt{false};
}  // namespace

void request_interrupt() {
  g_interrupt = true;
}
bool interrupt_requested() {
  return g_interrupt.load();
}
void clear_interrupt() {
  g_interrupt = false;
}

namespace {

using detail::Member;
using detail::PreparedData;
using detail::Results;
using Log = std::function<void(const std::string&)>;

struct DeviceChoice {
  Device device = Device::cpu;
  std::string message;
};

// Probes for a GPU and, when one is used, starts it (warm_up_gpu): on a GPU run this is the
// slowest part of start-up, so execute() runs it on a thread while the host prepares the data.
DeviceChoice choose_device(const Config& config) {
  if (config.device == "cpu") {
    return {Device::cpu, fmt::format("device: cpu, {} thread(s), {} kernels", num_threads(),
                                     cpu_isa_name(cpu_isa()))};
  }
  const GpuStartTimes t = warm_up_gpu();  // also probes for the device: nothing to do without one
  if (t.started) {
    return {
        Device::cuda,
        fmt::format(
            "device: cuda{}, started in {:.2f} s (driver {:.2f}, context {:.2f}, libraries {:.2f}, "
            "first launch {:.2f})",
            config.device == "auto" ? " (a GPU is present)" : "", t.total(), t.driver_seconds,
            t.context_seconds, t.libraries_seconds, t.first_launch_seconds)};
  }
  if (config.device == "cuda") {
    throw Error(ErrorKind::usage,
                cuda_built()
                    ? "--device cuda: no CUDA device is visible; check nvidia-smi, or run "
                      "with --device cpu"
                    : "--device cuda: this keel was built without the CUDA backend; rebuild "
                      "with the CUDA toolkit installed (cmake -DKEEL_CUDA=ON) or use --device cpu");
  }
  return {Device::cpu, fmt::format("device: cpu, {} thread(s), {} kernels{}", num_threads(),
                                   cpu_isa_name(cpu_isa()), cuda_built() ? " (no GPU found)" : "")};
}

// The reduced-precision training path exists on the CPU (an emulation) only: the CUDA device has
// the kernels of the conversions and the loss scaler, not yet fp16 GEMMs and convolutions.
void expect_precision_supported(const Config& config, Device device) {
  if (config.precision == "fp32" || device == Device::cpu) return;
  throw Error(ErrorKind::config,
              fmt::format("{}: precision: {} is not available on cuda yet (keel trains in {} on "
                          "the CPU only, as an emulation; notes/mixed-precision.md); run with "
                          "--device cpu, or set precision: fp32 to train on the GPU",
                          config.source.empty() ? "config" : config.source, config.precision,
                          config.precision));
}

std::string precision_message(const Config& config) {
  const std::string scaling =
      config.precision == "fp16"
          ? fmt::format("dynamic loss scaling from {} (growth every {} clean steps)",
                        config.train.loss_scale, config.train.loss_scale_growth_interval)
          : std::string("no loss scaling (bf16 has float32's range)");
  return fmt::format(
      "precision: {}, emulated on the CPU: convolution and linear operands rounded "
      "to {}, float32 accumulation and master weights, {}",
      config.precision, config.precision, scaling);
}

void expect_gpu_backend_built(const Config& config, Device device) {
  if (config.gpu_backend != "cudnn" || device != Device::cuda || cudnn_built()) return;
  throw Error(ErrorKind::config,
              fmt::format("{}: gpu_backend: cudnn, but this keel build has no cuDNN: install cuDNN "
                          "9 and reconfigure, or set gpu_backend: keel",
                          config.source.empty() ? "config" : config.source));
}

void apply_runtime_settings(const Config& config) {
  set_num_threads(config.threads);
  cpu_isa();  // settles the CPU kernels' path now, so a bad KEEL_CPU_ISA stops the run before any
              // work
  set_deterministic(config.deterministic);
  // gpu_backend applies on CUDA only: a build without cuDNN keeps keel's kernels here, and a run
  // that does use the GPU with `cudnn` there is refused once the device is known.
  const bool cudnn = config.gpu_backend == "cudnn" && cudnn_built();
  set_gpu_backend(cudnn ? GpuBackend::cudnn : GpuBackend::keel);
  set_cpu_conv_algo(parse_cpu_conv_algo(config.cpu_conv_algo));
  // Settles the CUDA convolution policies from KEEL_CONV_ALGO / KEEL_CONV_DW now, so a bad value
  // stops the run before any work.
  gpu_conv_algo();
  gpu_conv_dw();
}

// The rows of a CPU image set and their labels, on the training device.
LabelledImages select(const Tensor& all_images, const std::vector<int>& all_labels,
                      const std::vector<int64_t>& rows, Device device) {
  LabelledImages out;
  if (rows.empty()) return out;
  std::vector<float> index(rows.begin(), rows.end()), labels;
  for (int64_t r : rows) labels.push_back(static_cast<float>(all_labels[static_cast<size_t>(r)]));
  const Tensor idx = Tensor::from_data({static_cast<int64_t>(rows.size())}, index);
  Tensor images;
  gather_rows(all_images, idx, images);
  out.images = images.to(device);
  out.labels = Tensor::from_data({static_cast<int64_t>(labels.size())}, labels, device);
  return out;
}

class Run {
 public:
  Run(const Config& config, const RunOptions& options, const Log& log)
      : config_(config), options_(options), log_(log) {}

  RunResult execute();

 private:
  std::string checkpoint_path(const char* name) const {
    return (std::filesystem::path(options_.out_dir) / "checkpoints" / name).string();
  }
  Checkpoint load_matching_checkpoint(const std::string& path) const;
  void train_member(const Member& member, const Checkpoint* resume);
  // Folds: every rank's outcomes to rank 0, added there in member order.
  void gather_outcomes();
  RunResult rank_result() const;
  void save(const Trainer* trainer, const char* name, Durability durability) const;
  void log_epoch(const Member& member, const EpochRecord& r) const;
  std::string model_name(const Member& member) const;
  [[noreturn]] void report_divergence(const Diverged& d) const;
  std::string progress_bar_line(const Member& member, int epoch, int64_t step, int64_t steps) const;
  RunResult predict_only();
  void check_export_onnx_path() const;
  std::unique_ptr<nn::Sequential> finished_network(const Checkpoint& c, int j) const;
  void export_onnx_if_asked(const Checkpoint& finished) const;

  const Config& config_;
  const RunOptions& options_;
  Log log_;
  Device device_ = Device::cpu;
  PreparedData data_;
  std::vector<Member> members_;
  Results results_;
  Checkpoint finished_models_;  // "model<j>.param.*" of every finished member
  std::vector<std::string> layer_table_;
  int64_t parameter_count_ = 0;
  bool stopped_ = false;  // train.stop_after_epochs reached
  mutable double checkpoint_seconds_ = 0.0;
  double step_seconds_ = 0.0;                 // this session's training steps
  std::unique_ptr<CheckpointWriter> writer_;  // made once the device is known
  detail::DistMode dist_mode_ = detail::DistMode::single;
  std::map<int, Checkpoint> my_outcomes_;  // folds: this rank's finished members, by index
};

Checkpoint Run::load_matching_checkpoint(const std::string& path) const {
  Checkpoint c = load_checkpoint(path);
  const auto saved = static_cast<uint64_t>(c.int_at("run.config_hash"));
  if (saved != config_hash(config_)) {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {} was written with a different configuration than {} "
                            "(hash {:016x}, now {:016x}): resume with the same config and --set "
                            "overrides, or start a new run with another --out",
                            path, config_.source, saved, config_hash(config_)));
  }
  return c;
}

void Run::save(const Trainer* trainer, const char* name, Durability durability) const {
  // Data-parallel ranks hold the same state; folds write one checkpoint, after gathering.
  if (!dist::is_root()) return;
  Stopwatch clock;
  // Made on the first save, so a run with output.checkpoints off that is never stopped leaves none.
  create_directories((std::filesystem::path(options_.out_dir) / "checkpoints").string());
  Checkpoint c = finished_models_;
  c.ints["run.config_hash"] = static_cast<int64_t>(config_hash(config_));
  c.ints["run.members_total"] = static_cast<int64_t>(members_.size());
  // The raw images' shape, for loading the finished models without the CSVs (trained_model.h).
  c.ints["run.input_channels"] = data_.train_images.dim(1);
  c.ints["run.input_side"] = data_.side;
  results_.save(c);
  if (trainer) trainer->save_state(c);
  writer_->write(checkpoint_path(name), std::move(c), durability);
  checkpoint_seconds_ += clock.lap();
}

std::string Run::progress_bar_line(const Member& m, int epoch, int64_t step, int64_t steps) const {
  const int total = config_.train.frozen_epochs + config_.train.epochs;
  const auto filled = static_cast<size_t>(30 * step / std::max<int64_t>(steps, 1));
  std::string who =
      members_.size() > 1 ? fmt::format("model {}/{} ", m.index + 1, members_.size()) : "";
  return fmt::format("\r{}epoch {:>3}/{} [{}{}] step {}/{}", who, epoch, total,
                     std::string(filled, '#'), std::string(30 - filled, '.'), step, steps);
}

std::string Run::model_name(const Member& m) const {
  const std::string who = fmt::format("model {}/{}", m.index + 1, members_.size());
  const TrainConfig& t = config_.train;
  if (t.folds > 1) {
    return fmt::format("{} (fold {} of {}, repeat {} of {})", who, m.fold, t.folds,
                       m.index / t.folds + 1, t.repeats);
  }
  if (members_.size() > 1) return fmt::format("{} (seed {})", who, m.seed);
  return who;
}

// The trainer's finding and advice, with what that means for the run's files in between.
void Run::report_divergence(const Diverged& d) const {
  std::string files = fmt::format(
      "Nothing was written from this run's models: no submission.csv, probabilities.csv, "
      "metrics.csv or summary.json (earlier ones in {} are untouched)",
      options_.out_dir);
  // The last finite epoch's checkpoint may still be on its way to disk.
  writer_->wait();
  const std::string last = checkpoint_path("last.ckpt");
  files += std::filesystem::exists(last)
               ? fmt::format("; {} was not overwritten and holds the last finite state saved", last)
               : "; no checkpoint had been saved yet";
  throw Diverged(d.finding() + " " + files + ".", d.advice());
}

void Run::log_epoch(const Member& m, const EpochRecord& r) const {
  const int total = config_.train.frozen_epochs + config_.train.epochs;
  std::string who =
      members_.size() > 1 ? fmt::format("model {}/{} ", m.index + 1, members_.size()) : "";
  std::string val = std::isnan(r.val_loss)
                        ? std::string()
                        : fmt::format("  val_loss {:.4f}  val_acc {:.4f}  error {:.4f}", r.val_loss,
                                      r.val_accuracy, 1.0 - r.val_accuracy);
  // On a terminal the progress bar line is replaced by the epoch's summary line.
  const char* clear = options_.progress_bar ? "\r\033[K" : "";
  log_(fmt::format("{}{}epoch {:>3}/{}  train_loss {:.4f}{}  lr {:.2e}  {:.2f}s", clear, who,
                   r.epoch, total, r.train_loss, val, r.lr, r.seconds));
}

void Run::train_member(const Member& member, const Checkpoint* resume) {
  Generator init_gen(member.seed);
  auto model = build_model(config_, data_.train_images.dim(1), data_.side, init_gen);
  if (config_.model.pretrained != "none") {
    const PretrainedLoad pretrained = load_pretrained(config_, *model);
    if (member.index == 0) log_(pretrained.summary);
  }
  if (layer_table_.empty()) {
    parameter_count_ = model->parameter_count();
    layer_table_.push_back(model->describe());
    log_(fmt::format("model ({} parameters):\n{}", parameter_count_, layer_table_.back()));
  }
  Trainer trainer(trainer_options(config_), *model, device_, member.seed, member.index);
  if (dist_mode_ == detail::DistMode::data) trainer.share_batches_across_ranks();
  if (resume) trainer.load_state(*resume);
  const double earlier_step_seconds =
      trainer.train_seconds();  // of the sessions a resume continues
  const data::FoldImages images = detail::member_images(data_, config_, member);
  const LabelledImages train =
      select(images.train_images, data_.labels, member.train_rows, device_);
  const LabelledImages valid =
      select(images.train_images, data_.labels, member.valid_rows, device_);

  TrainerHooks hooks;
  hooks.log = log_;
  hooks.on_epoch = [&](const EpochRecord& r) { log_epoch(member, r); };
  if (options_.progress_bar && options_.progress && dist::is_root()) {
    hooks.on_step = [&](int epoch, int64_t step, int64_t steps) {
      options_.progress(progress_bar_line(member, epoch, step, steps));
    };
  }
  hooks.stop_requested = [] { return interrupt_requested(); };
  hooks.model_name = model_name(member);
  // Per-epoch checkpoints are renamed into place without a disk flush (an fsync per epoch would
  // dominate a sub-second GPU run); a stop always leaves a flushed last.ckpt to resume from, even
  // with output.checkpoints off.
  hooks.save_checkpoint = [&](TrainerHooks::Save kind) {
    if (kind == TrainerHooks::Save::stop) return save(&trainer, "last.ckpt", Durability::fsync);
    if (!config_.output.checkpoints) return;
    save(&trainer, kind == TrainerHooks::Save::best ? "best.ckpt" : "last.ckpt",
         Durability::rename_only);
  };
  // A fold-parallel rank's checkpoint would hold only its own models (see dist_plan.cpp).
  if (dist_mode_ == detail::DistMode::folds) hooks.save_checkpoint = nullptr;
  bool finished = false;
  try {
    finished = trainer.fit(train, valid, hooks);
  } catch (const Diverged& d) {
    if (options_.progress_bar) log_("");  // end the progress bar's line before the message
    report_divergence(d);
  }
  step_seconds_ += trainer.train_seconds() - earlier_step_seconds;
  if (!finished) {
    if (!trainer.stopped_after_epochs()) {
      throw Interrupted{hooks.save_checkpoint ? checkpoint_path("last.ckpt") : std::string()};
    }
    stopped_ = true;
    return;
  }

  trainer.restore_best();
  Checkpoint outcome =
      detail::member_outcome(trainer, *model, valid, images.test_images.to(device_));
  if (dist_mode_ == detail::DistMode::folds) {
    my_outcomes_[member.index] = std::move(outcome);
    return;
  }
  detail::add_outcome(results_, finished_models_, member, outcome);
  if (config_.output.checkpoints) save(nullptr, "last.ckpt", Durability::fsync);
}

// Each rank's outcomes travel as one checkpoint-shaped message whose text entries are the encoded
// outcomes, keyed by member index; rank 0 adds them in index order, as one process would have.
void Run::gather_outcomes() {
  Checkpoint mine;
  for (const auto& [index, outcome] : my_outcomes_) {
    mine.texts[fmt::format("{}", index)] = encode_checkpoint(outcome);
  }
  const std::vector<std::string> all = dist::gather(encode_checkpoint(mine), 0);
  if (!dist::is_root()) return;
  std::map<int, Checkpoint> outcomes;
  for (size_t r = 0; r < all.size(); ++r) {
    const std::string source = fmt::format("the models of rank {}", r);
    for (const auto& [index, bytes] : decode_checkpoint(all[r], source).texts) {
      outcomes[std::stoi(index)] = decode_checkpoint(bytes, source);
    }
  }
  for (const Member& member : members_) {
    detail::add_outcome(results_, finished_models_, member, outcomes.at(member.index));
  }
  if (config_.output.checkpoints) save(nullptr, "last.ckpt", Durability::fsync);
}

// What a rank other than 0 returns: it trained, rank 0 wrote the outputs.
RunResult Run::rank_result() const {
  RunResult result;
  result.device = device_name(device_);
  result.step_seconds = step_seconds_;
  return result;
}

// Before any training: an --export-onnx that cannot be written, or cannot express the run's
// ensemble, stops the run now rather than after its models are trained.
void Run::check_export_onnx_path() const {
  const std::string& path = options_.export_onnx_path;
  if (path.empty()) return;
  const std::filesystem::path folder = std::filesystem::absolute(path).parent_path();
  if (!std::filesystem::is_directory(folder) || ::access(folder.c_str(), W_OK) != 0) {
    throw Error(ErrorKind::usage,
                fmt::format("--export-onnx {}: the folder {} does not exist or is not writable; "
                            "create it or choose another path",
                            path, folder.string()));
  }
  if (std::filesystem::is_directory(path)) {
    throw Error(ErrorKind::usage,
                fmt::format("--export-onnx {}: that is a folder; name a file such as {}/model.onnx",
                            path, path));
  }
  if (members_.size() > 1 && config_.data.rank_top_k > 0) {
    throw Error(ErrorKind::usage,
                fmt::format("--export-onnx: the {} models of this ensemble each rank their own "
                            "features (data.rank_top_k), so their images differ and one ONNX "
                            "graph cannot take a single input for all of them; list the features "
                            "in data.features, or train one model (train.folds: 0 and no "
                            "train.ensemble_seeds)",
                            members_.size()));
  }
}

std::unique_ptr<nn::Sequential> Run::finished_network(const Checkpoint& c, int j) const {
  Generator init_gen(members_[static_cast<size_t>(j)].seed);
  auto model = build_model(config_, data_.train_images.dim(1), data_.side, init_gen);
  load_model_weights(c, fmt::format("model{}.", j), *model);
  return model;
}

// Every finished model as one ONNX graph (an ensemble's probabilities averaged, as in the
// submission), its input the models' own: the raw images after resizing and normalisation.
void Run::export_onnx_if_asked(const Checkpoint& finished) const {
  if (options_.export_onnx_path.empty() || !dist::is_root()) return;
  std::vector<std::unique_ptr<nn::Sequential>> networks;
  std::vector<nn::Module*> pointers;
  for (int j = 0; j < results_.members_done; ++j) {
    networks.push_back(finished_network(finished, j));
    pointers.push_back(networks.back().get());
  }
  const InputPipeline pipeline(config_.data, Device::cpu);
  const Shape input{pipeline.output_channels(data_.train_images.dim(1)),
                    pipeline.output_side(data_.side), pipeline.output_side(data_.side)};
  export_onnx(pointers, input, options_.export_onnx_path);
  const bool transformed = input[1] != data_.side || input[0] != data_.train_images.dim(1);
  log_(fmt::format(
      "wrote {}: {} as ONNX (opset 13, input (batch, {}, {}, {}){}, outputs logits and "
      "probabilities{}){}",
      options_.export_onnx_path,
      pointers.size() > 1
          ? fmt::format("the ensemble of {} models, probabilities averaged", pointers.size())
          : std::string("the model"),
      input[0], input[1], input[2],
      transformed ? ": the images after data.image_size resizing and ImageNet normalisation" : "",
      pointers.size() > 1 ? "; logits = log(probabilities)" : "",
      config_.predict.tta > 0 && config_.data.augment
          ? "; without predict.tta's augmented passes, which submission.csv blends in"
          : ""));
}

RunResult Run::predict_only() {
  const Checkpoint c = load_matching_checkpoint(options_.predict_path);
  results_.load(c);
  if (results_.members_done == 0) {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {} holds no finished model yet: finish training with "
                            "--resume {} first",
                            options_.predict_path, options_.predict_path));
  }
  Tensor sum = Tensor::zeros(results_.test_prob_sum.shape());
  for (int j = 0; j < results_.members_done; ++j) {
    auto model = finished_network(c, j);
    Trainer trainer(trainer_options(config_), *model, device_,
                    members_[static_cast<size_t>(j)].seed, j);
    const data::FoldImages images =
        detail::member_images(data_, config_, members_[static_cast<size_t>(j)]);
    add(sum, trainer.predict_final(images.test_images.to(device_)), sum);
  }
  results_.test_prob_sum = sum;
  if (!dist::is_root()) return rank_result();
  export_onnx_if_asked(c);
  detail::write_submission_files(config_, options_, data_, results_);
  log_(fmt::format("predicted {} passengers with {} model(s) from {}; wrote {}/submission.csv",
                   data_.test_ids.size(), results_.members_done, options_.predict_path,
                   options_.out_dir));
  RunResult result;
  result.device = device_name(device_);
  return result;
}

RunResult Run::execute() {
  apply_runtime_settings(config_);
  const bool root = dist::is_root();  // only rank 0 of an mpirun job writes files
  if (root) {
    create_directories(options_.out_dir);
    write_file_atomically(
        (std::filesystem::path(options_.out_dir) / "config.resolved.yaml").string(),
        to_yaml(config_));
  }
  log_(fmt::format("keel: resolved config ({}):\n{}", config_.source, to_yaml(config_)));
  if (options_.features_only) {
    if (!root) return {};
    const data::FeatureOutputs out = data::write_features(config_.data.dir, options_.out_dir,
                                                          detail::feature_selection(config_.data));
    log_(
        fmt::format("wrote {} and {} (the wrangled columns, then the group survival columns from "
                    "every train row's label, each train row's own left out), {} train and {} "
                    "test images ({}x{}) of the config's features into {}",
                    out.train_csv, out.test_csv, out.train_images, out.test_images, out.side,
                    out.side, options_.out_dir));
    return {};
  }
  // An explicit --device cuda is refused before the GPU starts; auto is checked once resolved.
  if (config_.device == "cuda") {
    expect_precision_supported(config_, Device::cuda);
    expect_gpu_backend_built(config_, Device::cuda);
  }
  Stopwatch clock;
  std::future<DeviceChoice> device_start;
  if (config_.device != "cpu")
    device_start = std::async(std::launch::async, choose_device, std::cref(config_));
  data_ = detail::prepare_data(config_, log_);
  const double data_seconds = clock.lap();
  const DeviceChoice choice = device_start.valid() ? device_start.get() : choose_device(config_);
  const double device_wait_seconds = clock.lap();
  device_ = choice.device;
  log_(choice.message);
  expect_precision_supported(config_, device_);
  expect_gpu_backend_built(config_, device_);
  if (config_.precision != "fp32") log_(precision_message(config_));
  if (config_.cuda_graph && device_ != Device::cuda)
    log_("cuda_graph: ignored, training runs on the CPU");
  if (config_.cuda_graph && device_ == Device::cuda &&
      (config_.train.grad_clip > 0 || config_.train.on_nonfinite == "skip_step")) {
    log_(
        "cuda_graph: off, since train.grad_clip or train.on_nonfinite: skip_step decide each "
        "step's update on the host after reading its gradient norm, which a captured step "
        "cannot wait for");
  }
  // In the background where a core would otherwise idle: a GPU run's host, or fewer CPU threads
  // than cores (the flagship trains on one).
  const bool spare_core = device_ == Device::cuda ||
                          num_threads() < static_cast<int>(std::thread::hardware_concurrency());
  writer_ = std::make_unique<CheckpointWriter>(spare_core);
  members_ = detail::plan_members(config_, data_.labels);
  log_(detail::describe_plan(config_, members_));
  dist_mode_ = detail::choose_dist_mode(config_, members_.size(), dist::world_size(),
                                        !options_.resume_path.empty());
  if (dist_mode_ != detail::DistMode::single) {
    log_(detail::describe_dist(dist_mode_, members_.size(), dist::world_size(), config_));
  }
  check_export_onnx_path();
  results_ = detail::empty_results(data_.train_images.dim(0), data_.test_images.dim(0),
                                   config_.model.num_classes);
  if (!options_.predict_path.empty()) return predict_only();

  std::optional<Checkpoint> resume;
  if (!options_.resume_path.empty()) {
    resume = load_matching_checkpoint(options_.resume_path);
    results_.load(*resume);
    for (const auto& [key, t] : resume->tensors) {
      if (key.rfind("model", 0) == 0) finished_models_.tensors[key] = t;
    }
    log_(fmt::format("resuming from {}: {} of {} model(s) finished", options_.resume_path,
                     results_.members_done, members_.size()));
  }
  for (size_t m = static_cast<size_t>(results_.members_done); m < members_.size(); ++m) {
    if (!detail::trains_member(dist_mode_, m, dist::rank(), dist::world_size())) continue;
    const std::string key = fmt::format("member{}.phase", m);
    const bool has_state = resume && resume->ints.count(key);
    train_member(members_[m], has_state ? &*resume : nullptr);
    if (stopped_) {
      log_(
          fmt::format("stopped after {} epoch(s) as train.stop_after_epochs asks; continue with "
                      "--resume {}",
                      config_.train.stop_after_epochs, checkpoint_path("last.ckpt")));
      RunResult result;
      result.device = device_name(device_);
      result.stopped_early = true;
      return result;
    }
  }
  if (dist_mode_ == detail::DistMode::folds) gather_outcomes();
  writer_->wait();  // a failed background write reports here, before any output is written
  if (!root) return rank_result();
  export_onnx_if_asked(finished_models_);
  const double models_seconds = clock.lap();
  const detail::BaselineScores baselines = detail::member_baselines(data_, members_);
  RunResult result =
      detail::write_outputs(config_, options_, data_, results_, baselines, layer_table_,
                            parameter_count_, device_name(device_), log_);
  result.data_seconds = data_seconds;
  result.device_wait_seconds = device_wait_seconds;
  result.models_seconds = models_seconds;
  result.step_seconds = step_seconds_;
  result.checkpoint_seconds = checkpoint_seconds_;
  result.outputs_seconds = clock.lap();
  log_(fmt::format(
      "time: data {:.2f} s, waiting for the device {:.2f} s, models {:.2f} s (training steps "
      "{:.2f} s, checkpoints {:.2f} s), outputs {:.2f} s",
      result.data_seconds, result.device_wait_seconds, result.models_seconds, result.step_seconds,
      result.checkpoint_seconds, result.outputs_seconds));
  return result;
}

}  // namespace

RunResult run_titanic(const Config& config, const RunOptions& options) {
  // One voice for an mpirun job: rank 0 logs; every rank still reports its own errors.
  const Log log = [&](const std::string& line) {
    if (options.log && !options.quiet && dist::is_root()) options.log(line);
  };
  clear_interrupt();
  Run run(config, options, log);
  return run.execute();
}

}  // namespace keel::train
