// keel::optim in one include: the Optimizer base with parameter groups, SGD, AdamW and the
// constant, cosine and one-cycle schedules.
#pragma once

#include "keel/optim/adamw.h"
#include "keel/optim/optimizer.h"
#include "keel/optim/schedule.h"
#include "keel/optim/sgd.h"
