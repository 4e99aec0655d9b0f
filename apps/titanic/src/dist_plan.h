// How the processes of an mpirun job share run_titanic (dist.mode): the batches of one model
// (data) or whole models of the ensemble (folds), and which models each rank trains.
#pragma once

#include <cstddef>
#include <string>

#include "titanic/config.h"

namespace keel::train::detail {

enum class DistMode { single, data, folds };

// Throws keel::Error (config) for a combination that cannot work, saying what to change.
DistMode choose_dist_mode(const Config& config, size_t models, int world, bool resuming);
// Folds: rank r trains models r, r + world, r + 2 world, ... (static, the same on every run).
bool trains_member(DistMode mode, size_t member, int rank, int world);
// One line for the log: the mode, the processes and each one's work.
std::string describe_dist(DistMode mode, size_t models, int world, const Config& config);

}  // namespace keel::train::detail
