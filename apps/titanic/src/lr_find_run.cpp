// titanic_train --lr-find: the range test on the job's data and model, and its two output files.
#include "titanic/lr_find_run.h"

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "keel/runtime.h"
#include "keel/train/atomic_file.h"
#include "run_plan.h"
#include "titanic/model_builder.h"

namespace keel::train {

LrFindResult lr_find_titanic(const Config& config, const RunOptions& options) {
  const auto log = [&](const std::string& line) {
    if (options.log && !options.quiet) options.log(line);
  };
  set_num_threads(config.threads);
  create_directories(options.out_dir);
  const detail::PreparedData data = detail::prepare_data(config, log);
  std::vector<float> labels(data.labels.begin(), data.labels.end());
  LabelledImages train;
  train.images = data.train_images;
  train.labels = Tensor::from_data({static_cast<int64_t>(labels.size())}, labels);
  Generator init(config.seed);
  auto model = build_model(config, data.train_images.dim(1), data.side, init);
  const LrFindResult r = lr_find(trainer_options(config), *model, train, Device::cpu, config.seed);
  std::string csv = "lr,smoothed_loss\n";
  for (size_t i = 0; i < r.lrs.size(); ++i)
    csv += fmt::format("{:.6e},{:.6f}\n", r.lrs[i], r.losses[i]);
  const auto out = std::filesystem::path(options.out_dir);
  write_file_atomically((out / "lr_find.csv").string(), csv);
  const std::string page = fmt::format(
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>keel: lr_find {0}</title></head>"
      "<body style=\"font-family:sans-serif\"><h1>Learning-rate range test of {0}</h1>\n"
      "<p>{1} steps of batch {2} on all {3} labelled rows, the learning rate growing from {4:.0e} "
      "to {5:.0e}{6}. Suggested <code>optimizer.lr</code>: <b>{7:.2e}</b> (steepest fall of the "
      "smoothed loss); lowest loss at {8:.2e}.</p>\n{9}</body></html>\n",
      config.source, r.lrs.size(), config.train.batch_size, labels.size(), LrFindOptions{}.start_lr,
      LrFindOptions{}.end_lr, r.stopped_early ? ", stopped when the loss exploded" : "",
      r.suggested_lr, r.min_loss_lr, lr_find_svg(r));
  write_file_atomically((out / "report.html").string(), page);
  log(fmt::format(
      "lr_find: {} steps, suggested lr {:.2e} (lowest loss at {:.2e}); wrote {}/lr_find.csv "
      "and report.html",
      r.lrs.size(), r.suggested_lr, r.min_loss_lr, options.out_dir));
  return r;
}

}  // namespace keel::train
