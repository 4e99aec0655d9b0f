// The choice between data- and fold-parallel training, and the refusals of what neither can do.
#include "dist_plan.h"

#include <fmt/format.h>

#include "keel/error.h"

namespace keel::train::detail {

namespace {

[[noreturn]] void refuse(const Config& config, const std::string& why) {
  throw Error(ErrorKind::config, fmt::format("{}: {}", config.source, why));
}

void check_folds(const Config& config, size_t models, int world, bool resuming) {
  if (models < 2) {
    refuse(config, fmt::format("dist.mode: folds gives each of the {} processes whole models, but "
                               "this run trains one model: set train.folds (2..20) or "
                               "train.ensemble_seeds for an ensemble, or dist.mode: data to share "
                               "the model's batches",
                               world));
  }
  if (resuming || config.train.stop_after_epochs > 0) {
    refuse(config, fmt::format("dist.mode: folds on {} processes keeps each model's state on the "
                               "process that trains it and writes one checkpoint at the end, so "
                               "it cannot stop early or resume (--resume, "
                               "train.stop_after_epochs): run those with one process or with "
                               "dist.mode: data",
                               world));
  }
}

}  // namespace

DistMode choose_dist_mode(const Config& config, size_t models, int world, bool resuming) {
  if (world == 1) return DistMode::single;
  const std::string& mode = config.dist.mode;
  const bool folds = mode == "folds" || (mode == "auto" && models > 1);
  if (!folds) return DistMode::data;
  check_folds(config, models, world, resuming);
  return DistMode::folds;
}

bool trains_member(DistMode mode, size_t member, int rank, int world) {
  if (mode != DistMode::folds) return true;
  return member % static_cast<size_t>(world) == static_cast<size_t>(rank);
}

std::string describe_dist(DistMode mode, size_t models, int world, const Config& config) {
  switch (mode) {
    case DistMode::single:
      return "";
    case DistMode::data:
      return fmt::format(
          "dist: data-parallel over {} processes, {} rows each of every global "
          "batch of {}; batch-norm statistics {}",
          world, config.train.batch_size / world, config.train.batch_size,
          config.train.sync_batch_norm ? "over the global batch"
                                       : "per process (rank 0's are kept)");
    case DistMode::folds: {
      std::string line = fmt::format(
          "dist: fold-parallel over {} processes, {} models: process r trains models r+1, "
          "r+1+{}, ...; rank 0 gathers their probabilities and writes the outputs",
          world, models, world);
      if (models < static_cast<size_t>(world)) {
        line += fmt::format(" ({} process(es) have no model to train)",
                            world - static_cast<int>(models));
      }
      return line;
    }
  }
  return "";
}

}  // namespace keel::train::detail
