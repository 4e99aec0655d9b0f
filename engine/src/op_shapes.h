// The operand checks of every op with more than one operand or an argument to check, made once in
// ops.cpp for every backend: a backend is only handed operands that fit, and computes. What only
// the data can tell (a label outside [0, K), a gather index out of range, a zero std) is the
// backend's to check, since reading the values is its business.
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

// Same-shape operands: dy like y, b like a, mask like dy.
void relu_backward(const Tensor& y, const Tensor& dy);
void add(const Tensor& a, const Tensor& b);
void dropout_backward(const Tensor& dy, const Tensor& mask);
// 0 <= p < 1: at p = 1 the kept values' scale 1 / (1 - p) is infinite.
void dropout_forward(float p);

// a: (N, Ca, ...), b: (N, Cb, ...) alike but for the channels; dy: (N, C, ...), 0 <= ca <= C.
void concat_channels(const Tensor& a, const Tensor& b);
void split_channels(const Tensor& dy, int64_t ca);
// x: (N, C, H, W); mean and std: (C).
void normalize_channels(const Tensor& x, const Tensor& mean, const Tensor& std);
// x: (N, C, H, W) with H, W >= 1, to out_h x out_w >= 1x1; dy: (N, C, H', W') back to in_h x in_w.
void resize_bilinear_forward(const Tensor& x, int64_t out_h, int64_t out_w);
void resize_bilinear_backward(const Tensor& dy, int64_t in_h, int64_t in_w);

// scores (logits or probabilities): (N, K) with N, K >= 1; labels: (N).
void softmax_cross_entropy(const char* op, const Tensor& scores, const Tensor& labels);
void argmax_rows(const Tensor& logits);  // (N, K), K >= 1
// src: (N, ...); indices: (B).
void gather_rows(const Tensor& src, const Tensor& indices);

// grad (and velocity, with momentum) like param; Nesterov needs momentum > 0 and dampening 0
// (PyTorch's rule).
void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& velocity, const SgdArgs& a);
// grad, m and v like param; steps count from 1 (the bias corrections divide by 1 - beta^step).
void adamw_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                  const AdamWArgs& a);
// The loss scaler's state: kLossScaleStateFloats values.
void loss_scale_state(const char* op, const Tensor& state);

}  // namespace keel::op_shapes
