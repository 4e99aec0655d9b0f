// keel::nn in one include: the Module base, every layer, initialisation and the ResNet builders.
// Layers call only ops.h, so a model runs on whichever device its tensors live on.
#pragma once

#include "keel/nn/activation.h"
#include "keel/nn/batch_norm.h"
#include "keel/nn/conv.h"
#include "keel/nn/init.h"
#include "keel/nn/linear.h"
#include "keel/nn/module.h"
#include "keel/nn/pooling.h"
#include "keel/nn/resnet.h"
#include "keel/nn/sequential.h"
