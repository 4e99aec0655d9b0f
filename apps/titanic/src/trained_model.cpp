// load_trained_model (see titanic/trained_model.h): the checks --predict makes, then
// keel::Model::from_checkpoint with build_model as the architecture.
#include "titanic/trained_model.h"

#include <memory>

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/train/checkpoint.h"
#include "keel/train/input_pipeline.h"
#include "titanic/model_builder.h"

namespace keel::train {

namespace {

void check_written_with(const Checkpoint& c, const Config& config, const std::string& path) {
  const auto saved = static_cast<uint64_t>(c.int_at("run.config_hash"));
  if (saved != config_hash(config)) {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {} was written with a different configuration than {} "
                            "(hash {:016x}, now {:016x}): load it with the config (and --set "
                            "overrides) of the run that wrote it",
                            path, config.source, saved, config_hash(config)));
  }
  if (!c.ints.count("run.input_side") || !c.ints.count("run.input_channels")) {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {} predates the image shape that checkpoints now record: "
                            "predict with titanic_train --predict {}, or train again",
                            path, path));
  }
  if (c.int_at("run.members_total") > 1 && config.data.rank_top_k > 0) {
    throw Error(ErrorKind::usage,
                fmt::format("checkpoint {}: the models of this ensemble each rank their own "
                            "features (data.rank_top_k), so each takes other images; one Model "
                            "cannot feed them one input (titanic_train --predict can)",
                            path));
  }
}

}  // namespace

TrainedModel load_trained_model(const Config& config, const std::string& checkpoint) {
  const Checkpoint c = load_checkpoint(checkpoint);
  check_written_with(c, config, checkpoint);
  const int64_t channels = c.int_at("run.input_channels"), side = c.int_at("run.input_side");
  auto make_network = [&]() -> std::unique_ptr<nn::Module> {
    Generator unused_init(0);  // every weight is then loaded from the checkpoint
    return build_model(config, channels, side, unused_init);
  };
  Model model = Model::from_checkpoint(make_network, c);
  auto pipeline = std::make_shared<InputPipeline>(config.data, Device::cpu);
  model.set_input_transform([pipeline](const Tensor& raw) { return pipeline->eval_input(raw); });
  return {std::move(model), Shape{channels, side, side}};
}

}  // namespace keel::train
