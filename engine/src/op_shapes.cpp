// The op layer's operand checks (see op_shapes.h). Nothing here allocates when the operands fit:
// the checks run on every op of every training step.
#include "op_shapes.h"

#include <initializer_list>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/dims.h"
#include "keel/error.h"
#include "keel/loss_scaler.h"

namespace keel {

// Rounded down as PyTorch does: a window larger than the padded input leaves 0 (C++'s division
// rounds toward zero, which made (5 - 9) / 9 + 1 a 1-pixel output).
int64_t conv_out_size(int64_t in, int64_t kernel, int stride, int padding) {
  const int64_t span = in + 2 * padding - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

namespace op_shapes {

namespace {

[[noreturn]] void refuse(const char* op, const std::string& what) {
  throw Error(ErrorKind::runtime, fmt::format("{}: {}", op, what));
}

std::string shape_of(const Tensor& t) {
  return t.defined() ? t.shape().str() : std::string("undefined");
}

std::string dims_text(std::initializer_list<int64_t> dims) {
  return fmt::format("({})", fmt::join(dims, ", "));
}

void expect_rank(const char* op, const char* name, const Tensor& t, int rank, const char* layout) {
  if (t.defined() && t.ndim() == rank) return;
  refuse(op, fmt::format("{} must be {}, got {}", name, layout, shape_of(t)));
}

void expect_exact(const char* op, const char* name, const Tensor& t,
                  std::initializer_list<int64_t> dims) {
  if (has_dims(t, dims)) return;
  refuse(op, fmt::format("{} must have shape {}, got {}", name, dims_text(dims), shape_of(t)));
}

void expect_like(const char* op, const char* name, const Tensor& t, const Tensor& x,
                 const char* x_name = "x") {
  if (t.defined() && x.defined() && t.shape() == x.shape()) return;
  refuse(op,
         fmt::format("{} must have {}'s shape {}, got {}", name, x_name, shape_of(x), shape_of(t)));
}

// ---- convolution ----

struct ConvOut {
  int64_t n, k, oh, ow;
};

ConvOut conv_geometry(const char* op, const Tensor& x, const Tensor& w, Conv2dArgs a) {
  expect_rank(op, "x", x, 4, "(N, C, H, W)");
  expect_rank(op, "w", w, 4, "(K, C, R, S)");
  if (w.dim(1) != x.dim(1)) {
    refuse(op, fmt::format("w {} expects {} input channels but x {} has {}", w.shape().str(),
                           w.dim(1), x.shape().str(), x.dim(1)));
  }
  if (x.dim(1) < 1 || w.dim(0) < 1 || w.dim(2) < 1 || w.dim(3) < 1) {
    refuse(op,
           fmt::format("empty channels or filters: x {}, w {}", x.shape().str(), w.shape().str()));
  }
  if (a.stride < 1 || a.padding < 0) {
    refuse(op, fmt::format("stride {} must be >= 1 and padding {} >= 0", a.stride, a.padding));
  }
  const int64_t oh = conv_out_size(x.dim(2), w.dim(2), a.stride, a.padding);
  const int64_t ow = conv_out_size(x.dim(3), w.dim(3), a.stride, a.padding);
  if (oh < 1 || ow < 1) {
    refuse(op, fmt::format("a {}x{} window (stride {}, padding {}) leaves no output pixel of a "
                           "{}x{} input; use a smaller window or more padding",
                           w.dim(2), w.dim(3), a.stride, a.padding, x.dim(2), x.dim(3)));
  }
  return ConvOut{x.dim(0), w.dim(0), oh, ow};
}

// ---- linear ----

void expect_linear_operands(const char* op, const Tensor& x, const Tensor& w) {
  expect_rank(op, "x", x, 2, "(N, I)");
  expect_rank(op, "w", w, 2, "(O, I)");
  if (w.dim(1) != x.dim(1)) {
    refuse(op, fmt::format("w {} expects {} inputs but x {} has {}", w.shape().str(), w.dim(1),
                           x.shape().str(), x.dim(1)));
  }
}

// ---- batch norm ----

// Values per channel: N, or N·H·W.
int64_t bn_values_per_channel(const char* op, const Tensor& x) {
  if (!x.defined() || (x.ndim() != 2 && x.ndim() != 4)) {
    refuse(op, fmt::format("x must be (N, C) or (N, C, H, W), got {}", shape_of(x)));
  }
  return x.ndim() == 4 ? x.dim(0) * x.dim(2) * x.dim(3) : x.dim(0);
}

void expect_per_channel(const char* op, const Tensor& x,
                        std::initializer_list<std::pair<const char*, const Tensor*>> operands) {
  const int64_t c = x.dim(1);
  for (const auto& [name, t] : operands) expect_exact(op, name, *t, {c});
}

// x and the four per-channel operands of a forward pass; returns the values per channel.
int64_t expect_forward_operands(const char* op, const Tensor& x, const Tensor& gamma,
                                const Tensor& beta, const Tensor& running_mean,
                                const Tensor& running_var) {
  const int64_t values = bn_values_per_channel(op, x);
  expect_per_channel(op, x,
                     {{"gamma", &gamma},
                      {"beta", &beta},
                      {"running_mean", &running_mean},
                      {"running_var", &running_var}});
  return values;
}

void expect_values_to_reduce(const char* op, const Tensor& x, int64_t values, int64_t least,
                             const char* why) {
  if (values >= least) return;
  refuse(op, fmt::format("x {} has {} value(s) per channel; {}", x.shape().str(), values, why));
}

// ---- pooling ----

struct PoolOut {
  int64_t oh, ow;
};

PoolOut window_geometry(const char* op, int64_t in_h, int64_t in_w, Pool2dArgs a) {
  if (a.kernel < 1 || a.stride < 1 || a.padding < 0) {
    refuse(op, fmt::format("kernel {} and stride {} must be >= 1 and padding {} >= 0", a.kernel,
                           a.stride, a.padding));
  }
  if (2 * a.padding > a.kernel) {
    refuse(op, fmt::format("padding {} exceeds half the kernel {}", a.padding, a.kernel));
  }
  const int64_t oh = conv_out_size(in_h, a.kernel, a.stride, a.padding);
  const int64_t ow = conv_out_size(in_w, a.kernel, a.stride, a.padding);
  if (oh < 1 || ow < 1) {
    refuse(op, fmt::format("a {}x{} window (stride {}, padding {}) leaves no output pixel of a "
                           "{}x{} input; use a smaller window or more padding",
                           a.kernel, a.kernel, a.stride, a.padding, in_h, in_w));
  }
  return PoolOut{oh, ow};
}

void expect_output_side(const char* op, int64_t out_h, int64_t out_w) {
  if (out_h >= 1 && out_w >= 1) return;
  refuse(op, fmt::format("output size {}x{} must be at least 1x1", out_h, out_w));
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Conv2dArgs a) {
  const ConvOut g = conv_geometry("conv2d_forward", x, w, a);
  if (b.defined()) expect_exact("conv2d_forward", "bias b", b, {g.k});
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Conv2dArgs a) {
  const ConvOut g = conv_geometry("conv2d_backward", x, w, a);
  expect_exact("conv2d_backward", "dy", dy, {g.n, g.k, g.oh, g.ow});
}

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b) {
  expect_linear_operands("linear_forward", x, w);
  if (b.defined()) expect_exact("linear_forward", "bias b", b, {w.dim(0)});
}

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy) {
  expect_linear_operands("linear_backward", x, w);
  expect_exact("linear_backward", "dy", dy, {x.dim(0), w.dim(0)});
}

void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                              const Tensor& running_mean, const Tensor& running_var,
                              const char* op) {
  const int64_t values = expect_forward_operands(op, x, gamma, beta, running_mean, running_var);
  expect_values_to_reduce(op, x, values, 2,
                          "training needs more than one to estimate a variance: use a batch "
                          "larger than 1");
}

void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var) {
  expect_forward_operands("batch_norm_forward_eval", x, gamma, beta, running_mean, running_var);
}

void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, const char* op) {
  const int64_t values = bn_values_per_channel(op, x);
  expect_per_channel(op, x,
                     {{"gamma", &gamma}, {"save_mean", &save_mean}, {"save_invstd", &save_invstd}});
  expect_like(op, "dy", dy, x);
  expect_values_to_reduce(op, x, values, 1, "the backward pass needs at least one");
}

void batch_norm_relu_backward(const Tensor& x, const Tensor& y, const Tensor& gamma,
                              const Tensor& save_mean, const Tensor& save_invstd,
                              const Tensor& dy) {
  const char* op = "batch_norm_relu_backward";
  batch_norm_backward(x, gamma, save_mean, save_invstd, dy, op);
  expect_like(op, "y", y, x);
}

void pool2d_forward(const char* op, const Tensor& x, Pool2dArgs a) {
  expect_rank(op, "x", x, 4, "(N, C, H, W)");
  window_geometry(op, x.dim(2), x.dim(3), a);
}

void max_pool2d_backward(const Tensor& x, const Tensor& dy, Pool2dArgs a) {
  const char* op = "max_pool2d_backward";
  expect_rank(op, "x", x, 4, "(N, C, H, W)");
  const PoolOut g = window_geometry(op, x.dim(2), x.dim(3), a);
  expect_exact(op, "dy", dy, {x.dim(0), x.dim(1), g.oh, g.ow});
}

void avg_pool2d_backward(const Tensor& dy, Pool2dArgs a, int64_t in_h, int64_t in_w) {
  const char* op = "avg_pool2d_backward";
  expect_rank(op, "dy", dy, 4, "(N, C, H', W')");
  const PoolOut g = window_geometry(op, in_h, in_w, a);
  expect_exact(op, "dy", dy, {dy.dim(0), dy.dim(1), g.oh, g.ow});
}

void adaptive_pool2d_forward(const char* op, const Tensor& x, int64_t out_h, int64_t out_w) {
  expect_rank(op, "x", x, 4, "(N, C, H, W)");
  expect_output_side(op, out_h, out_w);
  if (x.dim(2) < 1 || x.dim(3) < 1) {
    refuse(op, fmt::format("x {} has an empty plane", x.shape().str()));
  }
}

void adaptive_avg_pool2d_backward(const Tensor& dy, int64_t in_h, int64_t in_w) {
  const char* op = "adaptive_avg_pool2d_backward";
  expect_rank(op, "dy", dy, 4, "(N, C, H', W')");
  expect_output_side(op, dy.dim(2), dy.dim(3));
  if (in_h < 1 || in_w < 1) {
    refuse(op, fmt::format("input size {}x{} must be at least 1x1", in_h, in_w));
  }
}

void adaptive_max_pool2d_backward(const Tensor& x, const Tensor& dy) {
  const char* op = "adaptive_max_pool2d_backward";
  adaptive_pool2d_forward(op, x, 1, 1);  // x itself: rank 4, a non-empty plane
  expect_rank(op, "dy", dy, 4, "(N, C, H', W')");
  expect_output_side(op, dy.dim(2), dy.dim(3));
  if (dy.dim(0) != x.dim(0) || dy.dim(1) != x.dim(1)) {
    refuse(op, fmt::format("dy {} must have the batch and channels of x {}", dy.shape().str(),
                           x.shape().str()));
  }
}

// ---- same-shape and channel operands ----

void relu_backward(const Tensor& y, const Tensor& dy) {
  expect_like("relu_backward", "dy", dy, y, "y");
}

void add(const Tensor& a, const Tensor& b) {
  expect_like("add", "b", b, a, "a");
}

void dropout_backward(const Tensor& dy, const Tensor& mask) {
  expect_like("dropout_backward", "mask", mask, dy, "dy");
}

void dropout_forward(float p) {
  if (p >= 0.0f && p < 1.0f) return;
  refuse("dropout_forward", fmt::format("p = {} must be in [0, 1)", p));
}

void concat_channels(const Tensor& a, const Tensor& b) {
  constexpr const char* op = "concat_channels";
  bool fit = a.defined() && b.defined() && a.ndim() >= 2 && a.ndim() == b.ndim();
  for (int d = 0; fit && d < a.ndim(); ++d) fit = d == 1 || a.dim(d) == b.dim(d);
  if (fit) return;
  refuse(op, fmt::format("a {} and b {} must both be (N, C, ...) and differ only in C", shape_of(a),
                         shape_of(b)));
}

void split_channels(const Tensor& dy, int64_t ca) {
  constexpr const char* op = "split_channels";
  if (!dy.defined() || dy.ndim() < 2) {
    refuse(op, fmt::format("dy must be (N, C, ...), got {}", shape_of(dy)));
  }
  if (ca < 0 || ca > dy.dim(1)) {
    refuse(op, fmt::format("ca = {} is outside [0, {}] for dy {}", ca, dy.dim(1), shape_of(dy)));
  }
}

void normalize_channels(const Tensor& x, const Tensor& mean, const Tensor& std) {
  constexpr const char* op = "normalize_channels";
  expect_rank(op, "x", x, 4, "(N, C, H, W)");
  expect_exact(op, "mean", mean, {x.dim(1)});
  expect_exact(op, "std", std, {x.dim(1)});
}

void resize_bilinear_forward(const Tensor& x, int64_t out_h, int64_t out_w) {
  constexpr const char* op = "resize_bilinear_forward";
  expect_rank(op, "x", x, 4, "(N, C, H, W)");
  if (x.dim(2) < 1 || x.dim(3) < 1 || out_h < 1 || out_w < 1) {
    refuse(op, fmt::format("sizes must be positive, got {}x{} -> {}x{}", x.dim(2), x.dim(3), out_h,
                           out_w));
  }
}

void resize_bilinear_backward(const Tensor& dy, int64_t in_h, int64_t in_w) {
  constexpr const char* op = "resize_bilinear_backward";
  expect_rank(op, "dy", dy, 4, "(N, C, H', W')");
  if (dy.dim(2) < 1 || dy.dim(3) < 1 || in_h < 1 || in_w < 1) {
    refuse(op, fmt::format("sizes must be positive, got {}x{} -> {}x{}", in_h, in_w, dy.dim(2),
                           dy.dim(3)));
  }
}

// ---- loss and rows ----

void softmax_cross_entropy(const char* op, const Tensor& scores, const Tensor& labels) {
  if (!scores.defined() || scores.ndim() != 2 || scores.dim(0) < 1 || scores.dim(1) < 1) {
    refuse(op, fmt::format("scores must be (N, K) with N, K >= 1, got {}", shape_of(scores)));
  }
  expect_exact(op, "labels", labels, {scores.dim(0)});
}

void argmax_rows(const Tensor& logits) {
  if (logits.defined() && logits.ndim() == 2 && logits.dim(1) >= 1) return;
  refuse("argmax_rows", fmt::format("logits must be (N, K) with K >= 1, got {}", shape_of(logits)));
}

void gather_rows(const Tensor& src, const Tensor& indices) {
  constexpr const char* op = "gather_rows";
  if (!src.defined() || src.ndim() < 1) {
    refuse(op, fmt::format("src must be (N, ...), got {}", shape_of(src)));
  }
  expect_rank(op, "indices", indices, 1, "(B)");
}

// ---- optimizer updates ----

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& velocity, const SgdArgs& a) {
  constexpr const char* op = "sgd_update";
  expect_like(op, "grad", grad, param, "param");
  if (a.momentum != 0.0f) expect_like(op, "velocity", velocity, param, "param");
  if (a.nesterov && (a.momentum <= 0.0f || a.dampening != 0.0f)) {
    refuse(op, fmt::format("Nesterov momentum needs momentum > 0 and dampening 0 (got {} and {})",
                           a.momentum, a.dampening));
  }
}

void adamw_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                  const AdamWArgs& a) {
  constexpr const char* op = "adamw_update";
  expect_like(op, "grad", grad, param, "param");
  expect_like(op, "m", m, param, "param");
  expect_like(op, "v", v, param, "param");
  if (a.step < 1) refuse(op, fmt::format("step {} must start at 1", a.step));
}

void loss_scale_state(const char* op, const Tensor& state) {
  if (state.defined() && state.numel() == kLossScaleStateFloats) return;
  refuse(op, fmt::format("the loss scaler's state must have {} values, got {}",
                         kLossScaleStateFloats, shape_of(state)));
}

}  // namespace op_shapes
}  // namespace keel
