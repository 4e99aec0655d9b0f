// The Trainer's share of a titanic_train config: the sections that are the Trainer's own option
// structs, copied out, and the few keys it reads from elsewhere.
#include "titanic/config.h"

namespace keel {

train::TrainerOptions trainer_options(const Config& config) {
  train::TrainerOptions o;
  o.source = config.source;
  o.optimizer = config.optimizer;
  o.schedule = config.schedule;
  o.train = config.train;  // the loop's keys; the job's own (folds, val_fraction, ...) stay behind
  o.input = config.data;   // data.image_size, data.imagenet_normalize, data.augment
  o.num_classes = config.model.num_classes;
  o.precision = config.precision;
  o.cuda_graph = config.cuda_graph;
  o.tta = config.predict.tta;
  return o;
}

}  // namespace keel
