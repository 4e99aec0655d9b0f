// The models a titanic_train run finished, loaded from its checkpoint as one keel::Model for
// programs that link libkeel: the architecture from the run's config, the weights and the raw
// image shape from the checkpoint, and the run's evaluation-time resizing and normalisation.
#pragma once

#include <string>

#include "keel/model.h"
#include "keel/tensor.h"
#include "titanic/config.h"

namespace keel::train {

struct TrainedModel {
  Model model;      // an ensemble's models averaged, as in submission.csv (without predict.tta)
  Shape input_chw;  // the raw square images it takes: (channels, side, side), pixels 0 or 1
};

// `checkpoint` is a run's last.ckpt or best.ckpt, written with `config` (the config hash must
// match, as for --predict). Throws keel::Error(checkpoint) naming the file when it was written
// with another config, holds no finished model, or predates the stored image shape (then use
// titanic_train --predict); keel::Error(usage) for an ensemble whose models rank their own
// features (data.rank_top_k), whose images differ from model to model.
TrainedModel load_trained_model(const Config& config, const std::string& checkpoint);

}  // namespace keel::train
