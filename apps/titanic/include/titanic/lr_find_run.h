// titanic_train --lr-find: the learning-rate range test (keel/train/lr_find.h) on the config's
// features, fitted on every labelled row, and its model.
#pragma once

#include "keel/train/lr_find.h"
#include "titanic/config.h"
#include "titanic/run.h"

namespace keel::train {

// Writes lr_find.csv and report.html (the chart) into options.out_dir.
LrFindResult lr_find_titanic(const Config& config, const RunOptions& options);

}  // namespace keel::train
