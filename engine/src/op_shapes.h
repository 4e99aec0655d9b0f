// The operand checks of the ops that carry geometry (convolution, linear, pooling, batch norm),
// made once in ops.cpp for every backend: a backend is only handed operands that fit, and computes.
// Each refusal is a keel::Error naming the op, the operand and the shapes, the same on every
// device. Same names and arguments as the ops (minus the outputs they size).
#pragma once

#include <cstdint>

#include "keel/ops.h"

namespace keel::op_shapes {

// x: (N, C, H, W), w: (K, C, R, S), b: (K) or undefined, dy: (N, K, H', W'); N may be 0.
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a);
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Conv2dArgs a);

// x: (N, I), w: (O, I), b: (O) or undefined, dy: (N, O); N may be 0.
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b);
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy);

// x: (N, C) or (N, C, H, W); every per-channel operand (C). Training needs more than one value
// per channel (as PyTorch), the backward pass at least one.
void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                              const Tensor& running_mean, const Tensor& running_var,
                              const char* op = "batch_norm_forward_train");
void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var);
void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy,
                         const char* op = "batch_norm_backward");
void batch_norm_relu_backward(const Tensor& x, const Tensor& y, const Tensor& gamma,
                              const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy);

// Fixed windows: kernel and stride >= 1, 0 <= padding <= kernel / 2 (PyTorch's rule: a window
// must see at least one input pixel), at least one output pixel.
void pool2d_forward(const char* op, const Tensor& x, Pool2dArgs a);
void max_pool2d_backward(const Tensor& x, const Tensor& dy, Pool2dArgs a);
void avg_pool2d_backward(const Tensor& dy, Pool2dArgs a, int64_t in_h, int64_t in_w);

// Adaptive windows: any output size of at least 1x1, also larger than the input (as PyTorch).
void adaptive_pool2d_forward(const char* op, const Tensor& x, int64_t out_h, int64_t out_w);
void adaptive_avg_pool2d_backward(const Tensor& dy, int64_t in_h, int64_t in_w);
void adaptive_max_pool2d_backward(const Tensor& x, const Tensor& dy);

}  // namespace keel::op_shapes
