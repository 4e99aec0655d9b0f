// Loss, prediction, image-resize, optimizer and reduction ops on the CUDA device.
#include <cmath>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/graph.h"
#include "cuda/op_util.h"
#include "loss.cuh"
#include "optim.cuh"
#include "reduce.cuh"
#include "resize.cuh"

namespace keel::cuda {

// logits: (N, K), labels: (N) -> loss: (1), probs: (N, K)
void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& loss, Tensor& probs) {
  expect_ndim(logits, 2, "softmax_cross_entropy_forward", "logits");
  const int64_t n = logits.dim(0), k = logits.dim(1);
  expect_shape(labels, Shape{n}, "softmax_cross_entropy_forward labels");
  KEEL_CHECK(n > 0 && k > 0, "softmax_cross_entropy_forward: empty logits {}", logits.shape().str());
  loss.ensure(Shape{1}, Device::cuda);
  probs.ensure(logits.shape(), Device::cuda);
  Scratch row_loss(static_cast<size_t>(n) * sizeof(float));
  launch_softmax_cross_entropy_forward(logits.data(), labels.data(), n, k, probs.data(), row_loss.as(),
                                       loss.data(), stream());
}

void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, Tensor& dlogits) {
  expect_ndim(probs, 2, "softmax_cross_entropy_backward", "probs");
  const int64_t n = probs.dim(0), k = probs.dim(1);
  expect_shape(labels, Shape{n}, "softmax_cross_entropy_backward labels");
  dlogits.ensure(probs.shape(), Device::cuda);
  launch_softmax_cross_entropy_backward(probs.data(), labels.data(), n, k, dlogits.data(), stream());
}

void argmax_rows(const Tensor& logits, Tensor& pred) {
  expect_ndim(logits, 2, "argmax_rows", "logits");
  KEEL_CHECK(logits.dim(1) > 0, "argmax_rows: no columns in {}", logits.shape().str());
  pred.ensure(Shape{logits.dim(0)}, Device::cuda);
  launch_argmax_rows(logits.data(), logits.dim(0), logits.dim(1), pred.data(), stream());
}

// x: (N, C, H, W) -> y: (N, C, out_h, out_w)
void resize_bilinear_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  expect_ndim(x, 4, "resize_bilinear_forward", "x");
  KEEL_CHECK(out_h >= 1 && out_w >= 1 && x.dim(2) >= 1 && x.dim(3) >= 1,
             "resize_bilinear_forward: {} to {}x{}", x.shape().str(), out_h, out_w);
  y.ensure(Shape{x.dim(0), x.dim(1), out_h, out_w}, Device::cuda);
  launch_resize_bilinear_forward(x.data(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), y.data(), out_h, out_w,
                                 stream());
}

void resize_bilinear_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) {
  expect_ndim(dy, 4, "resize_bilinear_backward", "dy");
  KEEL_CHECK(in_h >= 1 && in_w >= 1, "resize_bilinear_backward: input {}x{}", in_h, in_w);
  dx.ensure(Shape{dy.dim(0), dy.dim(1), in_h, in_w}, Device::cuda);
  launch_resize_bilinear_backward(dy.data(), dy.dim(0) * dy.dim(1), dy.dim(2), dy.dim(3), dx.data(), in_h, in_w,
                                  stream());
}

void sgd_update(Tensor& param, const Tensor& grad, Tensor& velocity, const SgdArgs& a, bool first_step) {
  expect_shape(grad, param.shape(), "sgd_update grad");
  const LiveGroupRow* live = live_group_row(a.group);
  // A captured update keeps the velocity even at momentum 0: a later replay's momentum may not be.
  const bool use_velocity =
      a.momentum != 0.0f || (live && velocity.defined() && velocity.shape() == param.shape());
  if (use_velocity) expect_shape(velocity, param.shape(), "sgd_update velocity");
  launch_sgd_update(param.data(), grad.data(), use_velocity ? velocity.data() : nullptr, count(param), a.lr,
                    a.momentum, a.dampening, a.weight_decay, a.nesterov, first_step, live, stream());
}

void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWArgs& a) {
  expect_shape(grad, param.shape(), "adamw_update grad");
  expect_shape(m, param.shape(), "adamw_update m");
  expect_shape(v, param.shape(), "adamw_update v");
  KEEL_CHECK(a.step >= 1, "adamw_update: step {} must be >= 1", a.step);
  const AdamWBiasCorrections bc = adamw_bias_corrections(a.beta1, a.beta2, a.step);
  launch_adamw_update(param.data(), grad.data(), m.data(), v.data(), count(param), a.lr, a.beta1, a.beta2, a.eps,
                      a.weight_decay, bc.first, bc.second, live_group_row(a.group), stream());
}

double sum(const Tensor& x) {
  const size_t n = count(x);
  if (n == 0) return 0.0;
  Scratch partials(static_cast<size_t>(sum_parts(n)) * sizeof(double));
  Scratch result(sizeof(double));
  launch_sum(x.data(), n, partials.as<double>(), result.as<double>(), stream());
  double value = 0.0;
  KEEL_CUDA_CHECK(cudaMemcpyAsync(&value, result.as<double>(), sizeof(double), cudaMemcpyDeviceToHost, stream()));
  KEEL_CUDA_CHECK(cudaStreamSynchronize(stream()));
  return value;
}

}  // namespace keel::cuda
