// The one dispatch point of ops.h: checks that an op's input tensors share a device and that its
// operands fit (op_shapes.h), then calls the backend of that device (keel::cpu or keel::cuda, same
// name and arguments), which only computes.
#include "keel/ops.h"

#include <initializer_list>

#include <fmt/format.h>

#include "backend.h"
#include "cpu/isa.h"
#include "keel/error.h"
#include "op_shapes.h"

namespace keel {

namespace {
Device common_device(const char* op, std::initializer_list<const Tensor*> inputs) {
  const Tensor* first = nullptr;
  for (const Tensor* t : inputs) {
    if (!t || !t->defined()) continue;
    if (!first) {
      first = t;
    } else if (t->device() != first->device()) {
      throw Error(ErrorKind::runtime,
                  fmt::format("{}: inputs on different devices ({} and {}); move them with .to()",
                              op, device_name(first->device()), device_name(t->device())));
    }
  }
  if (!first) throw Error(ErrorKind::runtime, fmt::format("{}: no defined input tensor", op));
  return first->device();
}
}  // namespace

#define KEEL_DISPATCH(op, inputs, ...)                 \
  switch (common_device(#op, inputs)) {               \
    case Device::cpu:                                  \
      KEEL_ON_CPU(op(__VA_ARGS__));                    \
    case Device::cuda:                                 \
      KEEL_ON_CUDA(op(__VA_ARGS__));                   \
  }                                                    \
  throw Error(ErrorKind::runtime, #op ": unknown device")
#define KEEL_INPUTS(...) (std::initializer_list<const Tensor*>{__VA_ARGS__})

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, Conv2dArgs a) {
  op_shapes::conv2d_forward(x, w, b, a);
  KEEL_DISPATCH(conv2d_forward, KEEL_INPUTS(&x, &w, &b), x, w, b, y, a);
}
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db, Conv2dArgs a) {
  op_shapes::conv2d_backward(x, w, dy, a);
  KEEL_DISPATCH(conv2d_backward, KEEL_INPUTS(&x, &w, &dy), x, w, dy, dx, dw, db, a);
}
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  op_shapes::linear_forward(x, w, b);
  KEEL_DISPATCH(linear_forward, KEEL_INPUTS(&x, &w, &b), x, w, b, y);
}
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db) {
  op_shapes::linear_backward(x, w, dy);
  KEEL_DISPATCH(linear_backward, KEEL_INPUTS(&x, &w, &dy), x, w, dy, dx, dw, db);
}
void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                              Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                              Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  op_shapes::batch_norm_forward_train(x, gamma, beta, running_mean, running_var);
  KEEL_DISPATCH(batch_norm_forward_train, KEEL_INPUTS(&x, &gamma, &beta, &running_mean, &running_var),
                x, gamma, beta, running_mean, running_var, momentum, eps, y, save_mean, save_invstd);
}
void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var, float eps,
                             Tensor& y) {
  op_shapes::batch_norm_forward_eval(x, gamma, beta, running_mean, running_var);
  KEEL_DISPATCH(batch_norm_forward_eval, KEEL_INPUTS(&x, &gamma, &beta, &running_mean, &running_var),
                x, gamma, beta, running_mean, running_var, eps, y);
}
void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dgamma,
                         Tensor& dbeta) {
  op_shapes::batch_norm_backward(x, gamma, save_mean, save_invstd, dy);
  KEEL_DISPATCH(batch_norm_backward, KEEL_INPUTS(&x, &gamma, &save_mean, &save_invstd, &dy), x, gamma,
                save_mean, save_invstd, dy, dx, dgamma, dbeta);
}
void batch_norm_relu_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                   Tensor& running_mean, Tensor& running_var, float momentum,
                                   float eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  op_shapes::batch_norm_forward_train(x, gamma, beta, running_mean, running_var,
                                      "batch_norm_relu_forward_train");
  KEEL_DISPATCH(batch_norm_relu_forward_train,
                KEEL_INPUTS(&x, &gamma, &beta, &running_mean, &running_var), x, gamma, beta,
                running_mean, running_var, momentum, eps, y, save_mean, save_invstd);
}
void batch_norm_relu_backward(const Tensor& x, const Tensor& y, const Tensor& gamma,
                              const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dy,
                              Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  op_shapes::batch_norm_relu_backward(x, y, gamma, save_mean, save_invstd, dy);
  KEEL_DISPATCH(batch_norm_relu_backward,
                KEEL_INPUTS(&x, &y, &gamma, &save_mean, &save_invstd, &dy), x, y, gamma, save_mean,
                save_invstd, dy, dx, dgamma, dbeta);
}
void relu_forward(const Tensor& x, Tensor& y) { KEEL_DISPATCH(relu_forward, KEEL_INPUTS(&x), x, y); }
void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  op_shapes::relu_backward(y, dy);
  KEEL_DISPATCH(relu_backward, KEEL_INPUTS(&y, &dy), y, dy, dx);
}
void add(const Tensor& a, const Tensor& b, Tensor& y) {
  op_shapes::add(a, b);
  KEEL_DISPATCH(add, KEEL_INPUTS(&a, &b), a, b, y);
}
void scale(const Tensor& x, float alpha, Tensor& y) {
  KEEL_DISPATCH(scale, KEEL_INPUTS(&x), x, alpha, y);
}
void max_pool2d_forward(const Tensor& x, Tensor& y, Pool2dArgs a) {
  op_shapes::pool2d_forward("max_pool2d_forward", x, a);
  KEEL_DISPATCH(max_pool2d_forward, KEEL_INPUTS(&x), x, y, a);
}
void max_pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx, Pool2dArgs a) {
  op_shapes::max_pool2d_backward(x, dy, a);
  KEEL_DISPATCH(max_pool2d_backward, KEEL_INPUTS(&x, &dy), x, dy, dx, a);
}
void avg_pool2d_forward(const Tensor& x, Tensor& y, Pool2dArgs a) {
  op_shapes::pool2d_forward("avg_pool2d_forward", x, a);
  KEEL_DISPATCH(avg_pool2d_forward, KEEL_INPUTS(&x), x, y, a);
}
void avg_pool2d_backward(const Tensor& dy, Tensor& dx, Pool2dArgs a, int64_t in_h, int64_t in_w) {
  op_shapes::avg_pool2d_backward(dy, a, in_h, in_w);
  KEEL_DISPATCH(avg_pool2d_backward, KEEL_INPUTS(&dy), dy, dx, a, in_h, in_w);
}
void adaptive_avg_pool2d_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  op_shapes::adaptive_pool2d_forward("adaptive_avg_pool2d_forward", x, out_h, out_w);
  KEEL_DISPATCH(adaptive_avg_pool2d_forward, KEEL_INPUTS(&x), x, y, out_h, out_w);
}
void adaptive_avg_pool2d_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) {
  op_shapes::adaptive_avg_pool2d_backward(dy, in_h, in_w);
  KEEL_DISPATCH(adaptive_avg_pool2d_backward, KEEL_INPUTS(&dy), dy, dx, in_h, in_w);
}
void adaptive_max_pool2d_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  op_shapes::adaptive_pool2d_forward("adaptive_max_pool2d_forward", x, out_h, out_w);
  KEEL_DISPATCH(adaptive_max_pool2d_forward, KEEL_INPUTS(&x), x, y, out_h, out_w);
}
void adaptive_max_pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx) {
  op_shapes::adaptive_max_pool2d_backward(x, dy);
  KEEL_DISPATCH(adaptive_max_pool2d_backward, KEEL_INPUTS(&x, &dy), x, dy, dx);
}
void concat_channels(const Tensor& a, const Tensor& b, Tensor& y) {
  op_shapes::concat_channels(a, b);
  KEEL_DISPATCH(concat_channels, KEEL_INPUTS(&a, &b), a, b, y);
}
void split_channels(const Tensor& dy, int64_t ca, Tensor& da, Tensor& db) {
  op_shapes::split_channels(dy, ca);
  KEEL_DISPATCH(split_channels, KEEL_INPUTS(&dy), dy, ca, da, db);
}
void dropout_forward(const Tensor& x, float p, Generator& gen, Tensor& y, Tensor& mask) {
  op_shapes::dropout_forward(p);
  KEEL_DISPATCH(dropout_forward, KEEL_INPUTS(&x), x, p, gen, y, mask);
}
void dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) {
  op_shapes::dropout_backward(dy, mask);
  KEEL_DISPATCH(dropout_backward, KEEL_INPUTS(&dy, &mask), dy, mask, dx);
}
void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& loss,
                                   Tensor& probs) {
  op_shapes::softmax_cross_entropy("softmax_cross_entropy_forward", logits, labels);
  KEEL_DISPATCH(softmax_cross_entropy_forward, KEEL_INPUTS(&logits, &labels), logits, labels, loss,
                probs);
}
void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, Tensor& dlogits) {
  op_shapes::softmax_cross_entropy("softmax_cross_entropy_backward", probs, labels);
  KEEL_DISPATCH(softmax_cross_entropy_backward, KEEL_INPUTS(&probs, &labels), probs, labels, dlogits);
}
void argmax_rows(const Tensor& logits, Tensor& pred) {
  op_shapes::argmax_rows(logits);
  KEEL_DISPATCH(argmax_rows, KEEL_INPUTS(&logits), logits, pred);
}
void resize_bilinear_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  op_shapes::resize_bilinear_forward(x, out_h, out_w);
  KEEL_DISPATCH(resize_bilinear_forward, KEEL_INPUTS(&x), x, y, out_h, out_w);
}
void resize_bilinear_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) {
  op_shapes::resize_bilinear_backward(dy, in_h, in_w);
  KEEL_DISPATCH(resize_bilinear_backward, KEEL_INPUTS(&dy), dy, dx, in_h, in_w);
}
void normalize_channels(const Tensor& x, const Tensor& mean, const Tensor& std, Tensor& y) {
  op_shapes::normalize_channels(x, mean, std);
  KEEL_DISPATCH(normalize_channels, KEEL_INPUTS(&x, &mean, &std), x, mean, std, y);
}
void sgd_update(Tensor& param, const Tensor& grad, Tensor& velocity, const SgdArgs& a,
                bool first_step) {
  op_shapes::sgd_update(param, grad, velocity, a);
  KEEL_DISPATCH(sgd_update, KEEL_INPUTS(&param, &grad, &velocity), param, grad, velocity, a,
                first_step);
}
void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWArgs& a) {
  op_shapes::adamw_update(param, grad, m, v, a);
  KEEL_DISPATCH(adamw_update, KEEL_INPUTS(&param, &grad, &m, &v), param, grad, m, v, a);
}
void round_to_precision(const Tensor& x, Precision precision, Tensor& y) {
  KEEL_DISPATCH(round_to_precision, KEEL_INPUTS(&x), x, precision, y);
}
void apply_loss_scale(const Tensor& x, const Tensor& state, Tensor& y) {
  op_shapes::loss_scale_state("apply_loss_scale", state);
  KEEL_DISPATCH(apply_loss_scale, KEEL_INPUTS(&x, &state), x, state, y);
}
void unscale_gradients(Tensor& grad, Tensor& state) {
  op_shapes::loss_scale_state("unscale_gradients", state);
  KEEL_DISPATCH(unscale_gradients, KEEL_INPUTS(&grad, &state), grad, state);
}
void loss_scale_update(Tensor& state, const LossScaleRule& rule) {
  op_shapes::loss_scale_state("loss_scale_update", state);
  KEEL_DISPATCH(loss_scale_update, KEEL_INPUTS(&state), state, rule);
}
void gather_rows(const Tensor& src, const Tensor& indices, Tensor& dst) {
  op_shapes::gather_rows(src, indices);
  KEEL_DISPATCH(gather_rows, KEEL_INPUTS(&src, &indices), src, indices, dst);
}
double sum(const Tensor& x) { KEEL_DISPATCH(sum, KEEL_INPUTS(&x), x); }

}  // namespace keel
