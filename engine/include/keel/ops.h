// Every op once, as free functions that dispatch on the tensors' device (one dispatch point,
// engine/src/ops.cpp). All tensors of one call live on one device.
//
// Conventions:
// - Outputs are passed as `Tensor&` and sized by the op with Tensor::ensure, so a caller that keeps
//   its output tensors between steps allocates nothing after the first step.
// - Backward ops OVERWRITE their gradient outputs (no accumulation). An optional output passed as
//   `Tensor*` is not computed when the pointer is null; an optional input (bias) may be an
//   undefined Tensor.
// - The declarations themselves are in keel/op_list.inc, shared with the backends.
// - Labels are class indices stored as floats (exact up to 2^24).
#pragma once

#include <cstdint>

#include "keel/loss_scaler.h"
#include "keel/precision.h"
#include "keel/random.h"
#include "keel/tensor.h"

namespace keel {

struct Conv2dArgs {
  int stride = 1;
  int padding = 0;
};

struct Pool2dArgs {
  int kernel = 2;
  int stride = 2;
  int padding = 0;
};

struct SgdArgs {
  float lr = 0.01f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;  // L2, added to the gradient (PyTorch SGD semantics)
  bool nesterov = false;
  // The parameter group: which row of a captured step's live values (keel/captured_step.h) a
  // CUDA graph reads lr and momentum from. Eager updates use the fields above.
  int group = 0;
};

struct AdamWArgs {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.01f;  // decoupled: param -= lr * wd * param
  int64_t step = 1;            // 1-based, for bias correction
  int group = 0;               // the parameter group, as in SgdArgs (lr, beta1 and step go live)
};

// Output side of a convolution or pool: (in + 2p - k) / s + 1.
int64_t conv_out_size(int64_t in, int64_t kernel, int stride, int padding);

#include "keel/op_list.inc"

}  // namespace keel
